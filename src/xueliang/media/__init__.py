"""The media plane: sources yield access units into channels, channels fan out to sinks (DESIGN.md §4)."""
