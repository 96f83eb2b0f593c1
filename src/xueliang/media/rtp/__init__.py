"""RTP: packets (RFC 3550), H.264/H.265 payload formats (RFC 6184, RFC 7798), frame assembly."""
