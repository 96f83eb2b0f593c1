"""Recordings: the segment index, gaps, evidence locks, exports, retention, playback and their routes."""
