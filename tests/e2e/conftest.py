"""The `node` fixture (simulator + platform with the media engine) lives in tests/node_support.py."""

from tests.node_support import node  # noqa: F401 - re-exported fixture
