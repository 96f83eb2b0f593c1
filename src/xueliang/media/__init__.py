"""The media plane: sources yield access units into channels, channels fan out to sinks
(docs/architecture.md#the-media-library)."""
