"""Helpers shared by the tests (databases, servers, simulators, clips, waits, browser pages). Fixtures
live in the conftest.py files, which import what they need from here; tests import from here too, never
from a conftest module."""
