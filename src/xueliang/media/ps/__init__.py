"""MPEG program stream (ISO/IEC 13818-1), as GB/T 28181 carries it over RTP: a demuxer that turns PS
into access units for a camera's Channel, and a muxer that makes PS from them for an upper platform."""
