"""The layer contract "the media library imports no domain" names the library's modules one by one
(import-linter cannot say "all of media/ but the plane"). A new media module must join that list, or
belong to the plane side on purpose; this test fails until it does."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import xueliang.media

PLANE_SIDE = {"xueliang.media.plane", "xueliang.media.runtime", "xueliang.media.config"}
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_every_media_module_is_library_or_plane() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    (library,) = [c for c in contracts if c["name"].startswith("the media library")]
    modules = {f"xueliang.media.{m.name}" for m in pkgutil.iter_modules(xueliang.media.__path__)}
    assert modules - PLANE_SIDE == set(library["source_modules"])
    assert modules >= PLANE_SIDE  # the plane side is still there, under these names
    assert {"xueliang.media.plane", "xueliang.media.runtime"} <= set(library["forbidden_modules"])
