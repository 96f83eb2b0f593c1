"""MBTiles 1.3 files (one SQLite file of PNG tiles): the offline base layer a node serves itself, since
village links may have no internet.

Rows are stored TMS-style (row 0 at the south), Leaflet asks XYZ (row 0 at the north): the reader flips
`y`. The reader opens the file read-only (`mode=ro` URI) and is called off the event loop
(`asyncio.to_thread`); sqlite3 is blocking."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

SCHEMA = (
    "CREATE TABLE metadata (name TEXT, value TEXT)",
    "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)",
    "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)",
)


def tms_row(z: int, y: int) -> int:
    """XYZ row <-> TMS row (the same flip both ways)."""
    return (1 << z) - 1 - y


class MBTiles:
    """A read-only handle on one file; one connection guarded by a lock (sqlite3 objects must not be
    used by two threads at once, and lookups take microseconds)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ (z, x, y), or None when the file has none there."""
        if z < 0 or z > 30 or not (0 <= x < (1 << z)) or not (0 <= y < (1 << z)):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, tms_row(z, y)),
            ).fetchone()
        return bytes(row[0]) if row else None

    def metadata(self) -> dict[str, str]:
        with self._lock:
            return {str(k): str(v) for k, v in self._db.execute("SELECT name, value FROM metadata")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def write(path: Path, metadata: dict[str, str], tiles: Iterable[tuple[int, int, int, bytes]]) -> int:
    """Writes an MBTiles file from XYZ tiles (z, x, y, png) into a temporary file renamed over `path`
    when complete, so a reader never sees half a file. Returns the number of tiles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        for statement in SCHEMA:
            db.execute(statement)
        db.executemany("INSERT INTO metadata VALUES (?, ?)", sorted(metadata.items()))
        count = 0
        for z, x, y, data in tiles:
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, tms_row(z, y), data))
            count += 1
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)
    return count
