"""Incident photos: at most `photo_max_bytes` (10 MB), and really an image (decoded by Pillow, not
trusted from the file name or the client's content type). Checked before anything is written, so a
refused photo leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from xueliang.core.errors import AppError
from xueliang.grid.errors import refused

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class PhotoTooLarge(AppError):
    status = 413
    code = "photo_too_large"


class NotAnImage(AppError):
    status = 400
    code = "not_an_image"


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    content_type: str
    ext: str
    sha256: str


def check(data: bytes, max_bytes: int) -> CheckedPhoto:
    if len(data) > max_bytes:
        raise refused(
            PhotoTooLarge,
            "photo.too_large",
            size=f"{len(data) / 1_048_576:.1f}",
            limit=f"{max_bytes / 1_048_576:.0f}",
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise refused(NotAnImage, "photo.not_an_image") from exc
    if fmt not in FORMATS:
        raise refused(NotAnImage, "photo.format", format=fmt or "this")
    content_type, ext = FORMATS[fmt]
    return CheckedPhoto(data, content_type, ext, hashlib.sha256(data).hexdigest())


def store(data_dir: Path, incident_id: int, photo: CheckedPhoto) -> str:
    """Writes the file (named by its hash: the same photo twice is one file) and returns its path
    relative to data_dir."""
    rel = Path("grid") / "photos" / str(incident_id) / f"{photo.sha256[:32]}.{photo.ext}"
    path = data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(photo.data)
        tmp.replace(path)
    return rel.as_posix()
