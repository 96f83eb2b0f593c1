"""The identity marker and the simulator's encoded loops."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.bitstreams import Decoder
from xueliang.media.codecs.params import codec_string
from xueliang.media.frames import Codec
from xueliang.media.sim.encode import LoopSpec, ensure_loop, load_loop, loop_path, render_frames
from xueliang.media.sim.marker import decode_marker, draw_marker, region
from xueliang.media.sim.packets import prepare_frames


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 0xFFFF), st.sampled_from([(640, 360), (1280, 720), (352, 288)]), st.integers(0, 2**31))
def test_marker_survives_noise(number: int, size: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    picture = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    draw_marker(picture, number)
    noisy = np.clip(picture.astype(np.int16) + rng.integers(-40, 41, picture.shape), 0, 255).astype(np.uint8)
    assert decode_marker(noisy) == number
    assert decode_marker(noisy[..., 1]) == number  # a luma plane alone also works


def test_pictures_without_a_marker_read_as_none() -> None:
    rng = np.random.default_rng(1)
    assert decode_marker(np.zeros((360, 640, 3), np.uint8)) is None
    assert decode_marker(np.full((360, 640, 3), 255, np.uint8)) is None
    assert decode_marker(rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)) is None
    picture = np.zeros((360, 640, 3), np.uint8)
    draw_marker(picture, 1234)
    x0, y0, _, _ = region(360)
    picture[y0 + 24 : y0 + 48, x0 + 24 : x0 + 48] = 255 - picture[y0 + 24 : y0 + 48, x0 + 24 : x0 + 48]
    assert decode_marker(picture) is None  # one flipped cell fails the CRC
    assert decode_marker(np.zeros((10, 10, 3), np.uint8)) is None


def test_loop_is_seamless_in_motion() -> None:
    spec = LoopSpec(width=320, height=180, fps=5, seconds=2)
    frames = list(render_frames(5, spec))
    assert len(frames) == 10
    step = np.abs(frames[1].astype(int) - frames[0].astype(int)).mean()
    wrap = np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean()
    assert 0 < wrap < 2 * step  # the last frame leads into the first like any other pair


def test_cached_loop_has_the_promised_shape_and_decodes_to_its_camera(sim_data: Path) -> None:
    spec = LoopSpec()
    loop = load_loop(sim_data, 2, spec)
    assert len(loop.frames) == 100
    assert [i for i, k in enumerate(loop.keyframes) if k] == [0, 50]
    assert (loop.params.width, loop.params.height) == (640, 360)
    assert codec_string(loop.params).startswith(("avc1.64", "avc1.4d"))  # High or Main profile
    size = loop_path(sim_data, 2, spec).stat().st_size
    assert 0.8e6 < size * 8 / spec.seconds < 1.2e6  # ≈1 Mbit/s
    decoder = Decoder(Codec.h264)
    markers = [decode_marker(p) for nalus in loop.frames for p in decoder.decode(nalus)] + [
        decode_marker(p) for p in decoder.flush()
    ]
    assert markers == [2] * 100


def test_second_run_replays_the_cache_without_encoding(sim_data: Path) -> None:
    path = loop_path(sim_data, 1, LoopSpec())
    before = path.stat().st_mtime_ns
    started = time.perf_counter()
    assert ensure_loop(sim_data, 1, LoopSpec()) == path
    assert path.stat().st_mtime_ns == before and time.perf_counter() - started < 0.1


def test_prepared_packets_carry_each_frame_with_one_marker_bit(sim_data: Path) -> None:
    loop = load_loop(sim_data, 3, LoopSpec())
    prepared = prepare_frames(loop)
    first = prepared[0]
    buf = first.for_tcp(channel=4, seq=65535, ts=0xFFFFFFFF, ssrc=0xABCDEF01)
    markers = [buf[off + 1] >> 7 for off in first.offsets]
    assert markers == [0] * (len(markers) - 1) + [1]
    assert all(buf[off - 4 : off - 2] == b"$\x04" for off in first.offsets)
    udp = first.for_udp(seq=65535, ts=7, ssrc=1)
    assert [int.from_bytes(p[2:4], "big") for p in udp[:2]] == [65535, 0]
    assert all(len(p) <= 1412 for f in prepared for p in f.for_udp(0, 0, 0))
