"""What the county node tells an upper platform, as MANSCDP XML: the catalog (the region tree as
CivilCode items, then the shared cameras), catalog change notifications, alarms, keepalives, and the
DeviceInfo/DeviceStatus answers about the node itself.

The region tree: GB/T 28181 civil codes have 2, 4, 6 or 8 digits (province, city, county, township).
Our townships carry 9-digit statistical codes (county + 3 digits); their civil code is the county's 6
digits and the last 2 of those 3 (`513223101` -> `51322301`). Villages have no civil code of their own
in 2016; a camera's `CivilCode` is its township's, its `Address` names the village."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from xueliang.gb28181.cascade.service import SharedCamera

MANUFACTURER = "Xueliang"


def encode(element: ET.Element, charset: str) -> bytes:
    """The document in the charset agreed with the upper (GB2312 written as GB18030, its superset)."""
    xml = ET.tostring(element, encoding="unicode")
    gb = charset.upper() in ("GB2312", "GBK", "GB18030")
    label = charset.upper() if gb else "UTF-8"
    return f'<?xml version="1.0" encoding="{label}"?>\r\n{xml}\r\n'.encode("GB18030" if gb else "UTF-8")


def _sub(parent: ET.Element, name: str, text: object) -> ET.Element:
    child = ET.SubElement(parent, name)
    child.text = str(text)
    return child


def document(root: str, cmd: str, sn: int, device_id: str) -> ET.Element:
    element = ET.Element(root)
    _sub(element, "CmdType", cmd)
    _sub(element, "SN", sn)
    _sub(element, "DeviceID", device_id)
    return element


def civil_code(region_path: str) -> str:
    """A region's GB civil code: its township's 8 digits, else its county's 6 (see the module doc)."""
    codes = [c for c in region_path.strip("/").split("/") if c]
    for code in codes:
        if len(code) == 9 and code.isdigit():
            return code[:6] + code[-2:]
    for code in codes:
        if len(code) == 6 and code.isdigit():
            return code
    return (codes[0] if codes else "")[:6]


def civil_of_region(code: str) -> str:
    """A region code's civil code ("" for levels below the township: villages, grids)."""
    if len(code) in (2, 4, 6):
        return code
    return code[:6] + code[-2:] if len(code) == 9 else ""


@dataclass(frozen=True)
class Entry:
    """One catalog item: its ID and the element (without an Event; `with_event` adds one)."""

    device_id: str
    element: ET.Element

    def with_event(self, event: str) -> ET.Element:
        copy = ET.fromstring(ET.tostring(self.element))  # noqa: S314 - our own XML, just built
        _sub(copy, "Event", event)
        return copy


def region_entries(shared: Iterable[SharedCamera], region_names: dict[str, str]) -> list[Entry]:
    """CivilCode items for every level above the shared cameras, top first (`region_names`: our
    regions' names by region code; a level we do not hold is named by its code)."""
    names = {civil_of_region(code): name for code, name in region_names.items()}
    codes: set[str] = set()
    for item in shared:
        civil = civil_code(item.region.path)
        for size in (2, 4, 6, 8):
            if len(civil) >= size:
                codes.add(civil[:size])
    out = []
    for code in sorted(codes, key=lambda c: (len(c), c)):
        element = ET.Element("Item")
        _sub(element, "DeviceID", code)
        _sub(element, "Name", names.get(code, code))
        out.append(Entry(code, element))
    return out


def camera_entry(item: SharedCamera, parent_id: str, online: bool) -> Entry:
    camera = item.camera
    element = ET.Element("Item")
    _sub(element, "DeviceID", item.channel_id)
    _sub(element, "Name", camera.name)
    _sub(element, "Manufacturer", MANUFACTURER)
    _sub(element, "Model", "IPC")
    _sub(element, "Owner", "Owner")
    _sub(element, "CivilCode", civil_code(item.region.path))
    _sub(element, "Address", item.region.name)
    _sub(element, "Parental", 0)
    _sub(element, "ParentID", parent_id)
    _sub(element, "SafetyWay", 0)
    _sub(element, "RegisterWay", 1)
    _sub(element, "Secrecy", 0)
    _sub(element, "Status", "ON" if online else "OFF")
    _sub(element, "Longitude", f"{camera.lon:.6f}")
    _sub(element, "Latitude", f"{camera.lat:.6f}")
    info = ET.SubElement(element, "Info")
    _sub(info, "PTZType", 1 if camera.ptz else 3)  # 1 dome (moves), 3 fixed
    return Entry(item.channel_id, element)


def catalog_pages(local_id: str, sn: int, entries: list[Entry], page: int, charset: str) -> list[bytes]:
    """The catalog answer as MESSAGE bodies of at most `page` items; SumNum is the whole count."""
    page = max(1, page)
    chunks = [entries[i : i + page] for i in range(0, len(entries), page)] or [[]]
    out = []
    for chunk in chunks:
        element = document("Response", "Catalog", sn, local_id)
        _sub(element, "SumNum", len(entries))
        device_list = ET.SubElement(element, "DeviceList", Num=str(len(chunk)))
        for entry in chunk:
            device_list.append(entry.element)
        out.append(encode(element, charset))
    return out


def catalog_notify(local_id: str, sn: int, changes: list[ET.Element], charset: str) -> bytes:
    element = document("Notify", "Catalog", sn, local_id)
    _sub(element, "SumNum", len(changes))
    device_list = ET.SubElement(element, "DeviceList", Num=str(len(changes)))
    device_list.extend(changes)
    return encode(element, charset)


def keepalive(local_id: str, sn: int, charset: str) -> bytes:
    element = document("Notify", "Keepalive", sn, local_id)
    _sub(element, "Status", "OK")
    return encode(element, charset)


def device_info(local_id: str, sn: int, name: str, channels: int, charset: str) -> bytes:
    element = document("Response", "DeviceInfo", sn, local_id)
    _sub(element, "DeviceName", name)
    _sub(element, "Result", "OK")
    _sub(element, "Manufacturer", MANUFACTURER)
    _sub(element, "Model", "Xueliang county platform")
    _sub(element, "Firmware", "1")
    _sub(element, "Channel", channels)
    return encode(element, charset)


def device_status(local_id: str, sn: int, now_local: str, charset: str) -> bytes:
    element = document("Response", "DeviceStatus", sn, local_id)
    for name, value in (
        ("Result", "OK"),
        ("Online", "ONLINE"),
        ("Status", "OK"),
        ("Encode", "ON"),
        ("Record", "ON"),
        ("DeviceTime", now_local),
    ):
        _sub(element, name, value)
    return encode(element, charset)


# GB/T 28181-2016 A.2.5 AlarmMethod: 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other.
def alarm_method(kind: str, source: str) -> tuple[str, str]:
    """(AlarmMethod, AlarmType) for one of our alarms."""
    if kind == "camera_offline":
        return "6", "1"  # device fault; for video devices type 1 is video loss
    if source == "gb28181":
        return "5", "2"  # a camera's own alarm (intrusion): video alarm, type 2 "device tamper/motion"
    return "1", ""  # a person pressed a button (TV, phone, PC, hardware key): an alarm call


ALARM_PRIORITY = {"emergency": "1", "fire": "1", "medical": "1", "intrusion": "2", "camera_offline": "4"}


@dataclass(frozen=True)
class AlarmFacts:
    alarm_id: int
    kind: str
    source: str
    note: str
    lat: float | None
    lon: float | None
    at_local: str  # YYYY-MM-DDTHH:MM:SS, Beijing time
    region_name: str


def alarm_notify(local_id: str, sn: int, facts: AlarmFacts, channels: list[str], charset: str) -> bytes:
    """An Alarm `<Notify>` (9.4): DeviceID is the alarm's own camera, else the nearest shared one, else
    the node. `Info/RelatedChannels` (our addition; uppers ignore what they do not know) lists the
    nearest shared cameras so the province can open them at once."""
    element = document("Notify", "Alarm", sn, channels[0] if channels else local_id)
    method, alarm_type = alarm_method(facts.kind, facts.source)
    _sub(element, "AlarmPriority", ALARM_PRIORITY.get(facts.kind, "2"))
    _sub(element, "AlarmMethod", method)
    _sub(element, "AlarmTime", facts.at_local)
    description = f"{facts.region_name} {facts.kind} #{facts.alarm_id}"
    if facts.note:
        description += f": {facts.note[:100]}"
    _sub(element, "AlarmDescription", description)
    if facts.lat is not None and facts.lon is not None:
        _sub(element, "Longitude", f"{facts.lon:.6f}")
        _sub(element, "Latitude", f"{facts.lat:.6f}")
    info = ET.SubElement(element, "Info")
    if alarm_type:
        _sub(info, "AlarmType", alarm_type)
    related = ET.SubElement(info, "RelatedChannels", Num=str(len(channels)))
    for channel in channels:
        _sub(related, "DeviceID", channel)
    return encode(element, charset)


def local_time(at: datetime, tz: Callable[[datetime], datetime]) -> str:
    return tz(at).strftime("%Y-%m-%dT%H:%M:%S")
