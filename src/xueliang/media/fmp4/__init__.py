"""Hand-built fragmented MP4 (ISO BMFF): an init segment per codec configuration, a fragment per frame."""

from xueliang.media.fmp4.fragment import FragmentWriter, read_sample, sample_nalus
from xueliang.media.fmp4.init import TIMESCALE, InitSegmentError, TrackInit, build_init

__all__ = [
    "TIMESCALE",
    "FragmentWriter",
    "InitSegmentError",
    "TrackInit",
    "build_init",
    "read_sample",
    "sample_nalus",
]
