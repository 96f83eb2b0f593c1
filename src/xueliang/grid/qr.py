"""Checkpoint QR codes: a payload signed with the node's secret, and one PNG sheet per route.

The payload is "xl-cp:<checkpoint id>:<signature>", the signature the first 20 hex digits of
HMAC-SHA256(secret, "xl-cp:<id>"). A forged or altered code fails the signature; a photographed code
still verifies, which is why a QR check-in also needs a GPS fix near the point (service.py)."""

from __future__ import annotations

import hashlib
import hmac
import io

from xueliang.core.errors import AppError
from xueliang.grid.errors import refused

PREFIX = "xl-cp"
SIG_LEN = 20


class ForgedQr(AppError):
    status = 400
    code = "qr_invalid"


def _signature(secret: str, checkpoint_id: int) -> str:
    message = f"{PREFIX}:{checkpoint_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:SIG_LEN]


def payload(secret: str, checkpoint_id: int) -> str:
    return f"{PREFIX}:{checkpoint_id}:{_signature(secret, checkpoint_id)}"


def verify(secret: str, text: str) -> int:
    """The checkpoint id a genuine code names; anything else raises ForgedQr (400)."""
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit() or len(parts[1]) > 10:
        raise refused(ForgedQr, "qr.not_ours")
    checkpoint_id = int(parts[1])
    if not hmac.compare_digest(parts[2], _signature(secret, checkpoint_id)):
        raise refused(ForgedQr, "qr.bad_signature")
    return checkpoint_id


def sheet_png(title: str, items: list[tuple[str, str]]) -> bytes:
    """One PNG sheet, A4 proportions at about 100 dpi: a title and, for each (label, payload), its
    QR code with the label under it, three to a row."""
    import segno
    from PIL import Image, ImageDraw, ImageFont

    width, height, per_row, cell = 827, 1169, 3, 250
    rows = max(1, -(-len(items) // per_row))
    height = max(height, 90 + rows * (cell + 40))
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    draw.text((30, 25), title, fill="black", font=font)
    for n, (label, data) in enumerate(items):
        buf = io.BytesIO()
        segno.make(data, error="m").save(buf, kind="png", scale=6, border=2)
        buf.seek(0)
        code = Image.open(buf).convert("RGB")
        code.thumbnail((cell - 20, cell - 20))
        x = 30 + (n % per_row) * (cell + 12)
        y = 80 + (n // per_row) * (cell + 40)
        sheet.paste(code, (x, y))
        draw.text((x, y + code.height + 4), label[:28], fill="black", font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()
