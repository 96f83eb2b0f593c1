"""The camera simulator: pre-encoded loops whose pictures name their camera, served over RTSP."""
