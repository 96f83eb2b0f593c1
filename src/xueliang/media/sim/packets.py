"""A loop's frames packetized once, ahead of time, into RTP packets with blank sequence, timestamp
and SSRC fields, so serving a client costs a copy and a few `pack_into` calls per frame."""

from __future__ import annotations

from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.rtp.prepared import PreparedFrame, prepare_frame
from xueliang.media.sim.encode import EncodedLoop

PAYLOAD_TYPE = 96

__all__ = ["PAYLOAD_TYPE", "PreparedFrame", "prepare_frames"]


def prepare_frames(loop: EncodedLoop, max_payload: int = 1400) -> list[PreparedFrame]:
    """Packetize every frame of a loop (single NAL, STAP-A, FU-A; marker on each frame's last packet)."""
    packetizer = H264Packetizer(max_payload)
    return [
        prepare_frame(packetizer.packetize(nalus), PAYLOAD_TYPE, keyframe)
        for nalus, keyframe in zip(loop.frames, loop.keyframes, strict=True)
    ]
