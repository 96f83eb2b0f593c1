"""Audio beside the video: off unless a camera's `audio_enabled` is on (docs/media-audio.md). AAC is
carried as the camera sends it; G.711 is turned into AAC (PyAV, off the event loop) only on demand."""

from xueliang.media.audio.frames import AudioCodec, AudioConfig, AudioFrame

__all__ = ["AudioCodec", "AudioConfig", "AudioFrame"]
