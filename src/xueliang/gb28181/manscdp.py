"""MANSCDP (the XML of GB/T 28181 MESSAGE bodies): parse what devices send, build what we ask.

Parsed with defusedxml (no DTDs, no entity expansion, no external references) after a size bound.
The body is decoded by the charset its XML declaration names (GB2312 is read as GB18030, its
superset); devices lie about it, so a body that does not decode falls back to GB18030, then UTF-8."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # for types and building only; parsing is defusedxml's
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]

MAX_BODY = 60 * 1024
_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.-]{1,20})["']""")


class ManscdpError(ValueError):
    """Not a MANSCDP document we accept."""


@dataclass
class Doc:
    """A parsed MANSCDP document: its root (`Query`, `Notify`, `Response`, `Control`), CmdType, SN,
    DeviceID, the charset it came in, and the element for the rest."""

    root: str
    cmd: str
    sn: int
    device_id: str
    charset: str
    element: ET.Element = field(repr=False)

    def text(self, name: str, default: str = "") -> str:
        return child_text(self.element, name, default)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def find(element: ET.Element, name: str) -> ET.Element | None:
    """A child by name, case-insensitively (devices vary: `Alarmstatus`, `AlarmStatus`)."""
    low = name.lower()
    for child in element:
        if _local(child.tag).lower() == low:
            return child
    return None


def child_text(element: ET.Element, name: str, default: str = "") -> str:
    child = find(element, name)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def decode(body: bytes) -> tuple[str, str]:
    """(text, charset) of a body, by its declaration, with the fallbacks above."""
    match = _DECL.match(body)
    declared = match.group(1).decode("ascii").upper() if match else "UTF-8"
    tries = ["GB18030" if declared in ("GB2312", "GBK", "GB18030") else declared, "GB18030", "UTF-8"]
    for charset in tries:
        try:
            return body.decode(charset), declared
        except (UnicodeDecodeError, LookupError):
            continue
    raise ManscdpError("body does not decode")


def parse(body: bytes) -> Doc:
    if len(body) > MAX_BODY:
        raise ManscdpError("body too large")
    text, charset = decode(body)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # already decoded: drop the declaration
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # defusedxml's refusals and ParseError alike
        raise ManscdpError(f"not well-formed XML: {type(exc).__name__}") from exc
    cmd = child_text(root, "CmdType")
    sn = child_text(root, "SN", "0")
    device_id = child_text(root, "DeviceID")
    if not cmd:
        raise ManscdpError("no CmdType")
    if not sn.isdigit() or len(sn) > 10:
        raise ManscdpError("bad SN")
    return Doc(_local(root.tag), cmd, int(sn), device_id, charset, root)


def build(root: str, cmd: str, sn: int, device_id: str, charset: str = "GB2312", **extra: str) -> bytes:
    """`<Query><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>...</DeviceID>...</Query>` in `charset`."""
    element = ET.Element(root)
    for name, value in (("CmdType", cmd), ("SN", str(sn)), ("DeviceID", device_id), *extra.items()):
        ET.SubElement(element, name).text = value
    xml = ET.tostring(element, encoding="unicode")
    codec = "GB18030" if charset.upper() in ("GB2312", "GBK", "GB18030") else "UTF-8"
    label = charset.upper() if codec == "GB18030" else "UTF-8"
    return f'<?xml version="1.0" encoding="{label}"?>\r\n{xml}\r\n'.encode(codec)


@dataclass
class CatalogItem:
    device_id: str
    name: str
    status: str
    event: str
    parental: bool
    ptz_type: int
    lat: float | None
    lon: float | None


def _float(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if low <= value <= high and value != 0.0 else None


def catalog_items(doc: Doc) -> tuple[int, list[CatalogItem]]:
    """(SumNum, the items of this part). Bad items (no 20-digit DeviceID) are skipped."""
    sum_text = doc.text("SumNum", "0")
    total = int(sum_text) if sum_text.isdigit() and len(sum_text) < 7 else 0
    items: list[CatalogItem] = []
    device_list = find(doc.element, "DeviceList")
    for item in device_list if device_list is not None else []:
        if _local(item.tag).lower() != "item":
            continue
        item_id = child_text(item, "DeviceID")
        if len(item_id) != 20 or not item_id.isdigit():
            continue
        info = find(item, "Info")
        ptz = child_text(info, "PTZType") if info is not None else ""
        ptz = ptz or child_text(item, "PTZType")
        status = child_text(item, "Status", "ON").upper()
        items.append(
            CatalogItem(
                device_id=item_id,
                name=child_text(item, "Name")[:100],
                status="ON" if status in ("ON", "ONLINE", "OK") else "OFF",
                event=child_text(item, "Event").upper(),
                parental=child_text(item, "Parental") == "1",
                ptz_type=int(ptz) if ptz.isdigit() and len(ptz) < 3 else 0,
                lat=_float(child_text(item, "Latitude"), -90, 90),
                lon=_float(child_text(item, "Longitude"), -180, 180),
            )
        )
    return total, items
