"""Shared infrastructure; imports no domain package."""
