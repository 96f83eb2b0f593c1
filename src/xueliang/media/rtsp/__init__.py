"""RTSP 1.0 (RFC 2326): messages, SDP, authentication, and the pulling client."""
