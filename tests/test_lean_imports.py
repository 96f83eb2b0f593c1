"""A node that pulls RTSP cameras carries none of the heavy libraries only some features need: PyAV
(file/URL sources, exports), shapely and numpy (GeoJSON import, building the demo county). Each is
imported where it is used; this keeps a module-level import from creeping back (about 30 MB RSS)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("av", "shapely", "numpy")


def test_the_server_module_imports_no_heavy_library() -> None:
    probe = "import json, sys; import xueliang.server; print(json.dumps(sorted(set(sys.modules) & set(%r))))"
    out = subprocess.run(
        [sys.executable, "-c", probe % (HEAVY,)], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout) == []
