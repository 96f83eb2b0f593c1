"""H.264/H.265 bitstream helpers: NAL units, parameter sets, codec strings (no pixel work)."""
