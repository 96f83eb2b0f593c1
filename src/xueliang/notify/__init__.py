"""Pushes to consoles, TVs and phones (in-process hub, PostgreSQL bridge between processes)."""
