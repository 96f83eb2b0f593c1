"""Helpers of the recorder that need no event loop: reading back and repairing segment files."""
