"""MPEG program stream (ISO/IEC 13818-1), as GB/T 28181 carries it over RTP: a demuxer that turns PS
into access units for a camera's Channel, and a muxer that makes PS from them for an upper platform."""

from xueliang.media.ps.demux import PsDemuxer, PsStats
from xueliang.media.ps.mux import PsMuxer
from xueliang.media.ps.rtp import PsRtpPacketizer, PsRtpReceiver, PsRtpStats, PsSender, frame_tcp, split_tcp

__all__ = [
    "PsDemuxer",
    "PsMuxer",
    "PsRtpPacketizer",
    "PsRtpReceiver",
    "PsRtpStats",
    "PsSender",
    "PsStats",
    "frame_tcp",
    "split_tcp",
]
