"""Writing parameter sets bit by bit, to build SPS units with chosen fields for the parser tests."""

from __future__ import annotations


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> BitWriter:
        self.bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        self.u(code.bit_length() - 1, 0)
        return self.u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        """With the stop bit and alignment."""
        bits = [*self.bits, 1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (00 00 0x with x <= 3 becomes 00 00 03 0x)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def h264_sps(
    *,
    profile_idc: int = 100,
    constraints: int = 0,
    level_idc: int = 31,
    sps_id: int = 0,
    chroma_format_idc: int = 1,
    depth_luma: int = 8,
    depth_chroma: int = 8,
    scaling: bool = False,
    poc_type: int = 0,
    width_mbs: int = 40,
    height_units: int = 23,
    frame_mbs_only: bool = True,
    crop: tuple[int, int, int, int] | None = (0, 0, 0, 4),
) -> bytes:
    w = BitWriter().u(8, profile_idc).u(8, constraints).u(8, level_idc).ue(sps_id)
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.u(1, 0)
        w.ue(depth_luma - 8).ue(depth_chroma - 8).u(1, 0).u(1, int(scaling))
        if scaling:
            for i in range(8 if chroma_format_idc != 3 else 12):
                w.u(1, 1)
                for j in range(16 if i < 6 else 64):
                    w.se(1 if j % 3 else -2)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        w.u(1, 0).se(-1).se(2).ue(2).se(1).se(-1)
    w.ue(1).u(1, 0).ue(width_mbs - 1).ue(height_units - 1).u(1, int(frame_mbs_only))
    if not frame_mbs_only:
        w.u(1, 0)
    w.u(1, 1)
    if crop is None:
        w.u(1, 0)
    else:
        w.u(1, 1)
        for value in crop:
            w.ue(value)
    w.u(1, 0)  # no VUI
    return bytes([0x67]) + escape(w.rbsp())


def h265_sps(
    *,
    profile_space: int = 0,
    tier: int = 0,
    profile_idc: int = 1,
    compat: int = 0x60000000,
    constraints: int = 0xB00000000000,
    level_idc: int = 93,
    sub_layers: int = 1,
    sps_id: int = 0,
    chroma_format_idc: int = 1,
    width: int = 640,
    height: int = 368,
    window: tuple[int, int, int, int] | None = (0, 0, 0, 4),
    depth_luma: int = 8,
    depth_chroma: int = 8,
) -> bytes:
    w = BitWriter().u(4, 0).u(3, sub_layers - 1).u(1, 1)
    w.u(2, profile_space).u(1, tier).u(5, profile_idc).u(32, compat).u(48, constraints).u(8, level_idc)
    for i in range(sub_layers - 1):
        w.u(1, i % 2).u(1, 1)
    if sub_layers > 1:
        w.u(2 * (8 - (sub_layers - 1)), 0)
    for i in range(sub_layers - 1):
        if i % 2:
            w.u(88, 0x123456789ABCDEF012345 & ((1 << 88) - 1))
        w.u(8, 90)
    w.ue(sps_id).ue(chroma_format_idc)
    if chroma_format_idc == 3:
        w.u(1, 0)
    w.ue(width).ue(height)
    if window is None:
        w.u(1, 0)
    else:
        w.u(1, 1)
        for value in window:
            w.ue(value)
    w.ue(depth_luma - 8).ue(depth_chroma - 8).ue(4)  # ...then log2_max_pic_order_cnt_lsb_minus4
    return bytes([33 << 1, 1]) + escape(w.rbsp())
