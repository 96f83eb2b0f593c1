"""The cascade against a Python upper platform (tests/gb28181/cascade/upper.py, on our SIP endpoint):
the admin API and its policy, Digest registration, the paged catalog with its region tree, a catalog
subscription told of a camera going offline and of unsharing, stable channel IDs, an alarm forwarded
and retried until the upper confirms (once), security (404 for channels not shared), PTZ refusals,
and re-registration when the upper answers a keepalive with 403 (it restarted and forgot us)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from fastapi import FastAPI
from sqlalchemy import func, select

from tests.gb28181.cascade.upper import PASSWORD, UPPER_DOMAIN, UPPER_ID, Seen, running_upper
from tests.gb28181.device import FakeDevice
from tests.gb28181.support import DOMAIN, PLATFORM_ID, SHARED, platform, scalar, until
from tests.support.alarms import logins_to
from tests.support.waits import wait_until
from xueliang.audit.models import AuditEvent
from xueliang.cameras.events import CameraStatusChanged
from xueliang.cameras.mask_models import CameraPtzPosition
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.ids import gb_id
from xueliang.gb28181.cascade.models import GbUpper, GbUpperAlarm
from xueliang.gb28181.manscdp import find
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.ptz import ptz_cmd
from xueliang.regions.models import Region

API = "/api/v1/gb28181/uppers"
UP = ptz_cmd("up", 0x80)
MANSCDP = "Application/MANSCDP+xml"


def items_of(seen: Seen) -> list[ET.Element]:
    assert seen.doc is not None
    device_list = find(seen.doc.element, "DeviceList")
    return list(device_list) if device_list is not None else []


async def test_cascade_to_an_upper_platform(gb_app: FastAPI) -> None:
    ctx: AppContext = gb_app.state.ctx
    village = int(await scalar(gb_app, select(Region.id).where(Region.code == "513223101201")))
    async with ctx.db.read_session() as session:
        cams = list(
            await session.scalars(select(Camera.id).where(Camera.region_id == village).order_by(Camera.id))
        )[:4]
    async with running_upper() as upper, logins_to(gb_app) as login:
        admin, operator = await login("admin"), await login("op-qingxi")
        body = {
            "name": "省级平台",
            "sip_id": UPPER_ID,
            "domain": UPPER_DOMAIN,
            "host": "127.0.0.1",
            "port": upper.port,
            "password": PASSWORD,
            "keepalive_period": 1,
            "catalog_page": 2,
        }
        r = await operator.post(API, json=body)
        assert r.status_code == 403, r.text
        assert (await operator.get(API)).status_code == 403
        assert (await admin.post(API, json=body | {"sip_id": "123"})).status_code == 422
        r = await admin.post(API, json=body)
        assert r.status_code == 201, r.text
        upper_id = r.json()["id"]
        assert "password" not in r.json() and r.json()["has_password"] is True
        assert (await admin.post(API, json=body)).status_code == 409
        assert (await admin.get(f"{API}/999999")).status_code == 404

        async def state() -> str:
            return str(await scalar(gb_app, select(GbUpper.state).where(GbUpper.id == upper_id)))

        await until(gb_app, state, "registered", "the link registered")
        registers = [s for s in upper.seen if s.msg.method == "REGISTER"]
        assert len(registers) == 2 and "Digest" in registers[1].msg.get("Authorization")
        assert registers[1].msg.get("From").startswith(f"<sip:{PLATFORM_ID}@")

        channels = {}
        for cam in cams[:3]:
            r = await admin.put(f"{API}/{upper_id}/channels/{cam}", json={"shared": True})
            assert r.status_code == 200, r.text
            channels[cam] = r.json()["channel_id"]
        assert len(set(channels.values())) == 3 and all(len(c) == 20 for c in channels.values())
        assert (
            await admin.put(f"{API}/{upper_id}/channels/999999", json={"shared": True})
        ).status_code == 404

        # the catalog: region tree + 3 cameras, 2 items per MESSAGE, SumNum the whole count
        sip = await upper.request(
            "MESSAGE", PLATFORM_ID, upper.query("Catalog", PLATFORM_ID, 7), Content_Type=MANSCDP
        )
        assert sip.status == 200

        def catalog_done() -> list[Seen]:
            return [s for s in upper.of("Catalog") if s.doc is not None and s.doc.sn == 7]

        async def catalog_items() -> int:
            return sum(len(items_of(p)) for p in catalog_done())

        first = await upper.wait_for(
            lambda s: s.doc is not None and s.doc.cmd == "Catalog" and s.doc.sn == 7, "a catalog page"
        )
        assert first.doc is not None
        total = int(first.doc.text("SumNum"))
        await until(gb_app, catalog_items, total, "all catalog pages")
        parts = catalog_done()
        assert all(len(items_of(p)) <= 2 for p in parts)
        assert all(p.doc is not None and p.doc.text("SumNum") == str(total) for p in parts)
        ids = [i.findtext("DeviceID") for p in parts for i in items_of(p)]
        assert set(channels.values()) <= set(ids)
        assert {"51", "5132", "513223", "51322301"} <= set(ids)  # the region tree, down to the township
        assert total == len(set(ids)) == 7
        camera_item = next(
            i for p in parts for i in items_of(p) if i.findtext("DeviceID") == channels[cams[0]]
        )
        assert (
            camera_item.findtext("CivilCode") == "51322301"
            and camera_item.findtext("ParentID") == PLATFORM_ID
        )

        # a catalog subscription; a shared camera going offline is told within 5 s
        sip = await upper.request(
            "SUBSCRIBE",
            PLATFORM_ID,
            upper.query("Catalog", PLATFORM_ID, 8),
            Content_Type=MANSCDP,
            Event="Catalog",
            Expires="600",
        )
        assert sip.status == 200 and sip.get("Expires") == "600"
        await ctx.events.emit(CameraStatusChanged(cams[1], "offline", "test"))
        off = await upper.wait_for(
            lambda s: s.msg.method == "NOTIFY" and any(i.findtext("Event") == "OFF" for i in items_of(s)),
            "a catalog NOTIFY OFF",
        )
        events = {i.findtext("DeviceID"): i.findtext("Event") for i in items_of(off)}
        assert events[channels[cams[1]]] == "OFF"
        assert off.msg.call_id == sip.call_id

        # unsharing is a DEL; sharing again gives the same channel ID back (ADD)
        r = await admin.put(f"{API}/{upper_id}/channels/{cams[2]}", json={"shared": False})
        assert r.status_code == 200 and r.json()["shared"] is False
        await upper.wait_for(
            lambda s: (
                s.msg.method == "NOTIFY"
                and any(
                    i.findtext("Event") == "DEL" and i.findtext("DeviceID") == channels[cams[2]]
                    for i in items_of(s)
                )
            ),
            "a catalog NOTIFY DEL",
        )
        # an admin renames a shared camera: UPDATE with the new name
        assert (
            await admin.patch(f"/api/v1/cameras/{cams[0]}", json={"name": "上坪村东口"})
        ).status_code == 200
        await upper.wait_for(
            lambda s: (
                s.msg.method == "NOTIFY"
                and any(
                    i.findtext("Event") == "UPDATE" and i.findtext("Name") == "上坪村东口"
                    for i in items_of(s)
                )
            ),
            "a catalog NOTIFY UPDATE",
        )
        # INVITE and PTZ for a channel that is not shared (any more): 404, as for one that never was
        sdp = b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 40000 RTP/AVP 96\r\ny=0100000001\r\n"
        sip = await upper.request("INVITE", channels[cams[2]], sdp, Content_Type="Application/SDP")
        assert sip.status == 404
        ptz = upper.query("DeviceControl", channels[cams[2]], 9, root="Control", PTZCmd=UP)
        assert (await upper.request("MESSAGE", channels[cams[2]], ptz, Content_Type=MANSCDP)).status == 404
        ptz = upper.query("DeviceControl", channels[cams[0]], 9, root="Control", PTZCmd=UP)
        assert (await upper.request("MESSAGE", channels[cams[0]], ptz, Content_Type=MANSCDP)).status == 488
        bad = upper.query("DeviceControl", channels[cams[0]], 9, root="Control", PTZCmd="A50F01080080FFFF")
        assert (await upper.request("MESSAGE", channels[cams[0]], bad, Content_Type=MANSCDP)).status == 400
        r = await admin.put(f"{API}/{upper_id}/channels/{cams[2]}", json={"shared": True})
        assert r.json()["channel_id"] == channels[cams[2]]

        # an alarm press goes up; the upper's first answer is a 500, so it is sent again, same SN
        async def unsent() -> int:  # the camera going offline above raised a technical alarm: sent first
            return int(await scalar(gb_app, select(func.count()).where(GbUpperAlarm.sent_at.is_(None))))

        await until(gb_app, unsent, 0, "earlier alarms sent")
        upper.answers["Alarm"] = [500]
        resident = await login("res-v01")
        r = await resident.post("/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "app"})
        assert r.status_code in (200, 201), r.text
        assert r.json()["created"] is True, r.text
        alarm_id = r.json()["alarm"]["id"]

        async def sent() -> bool:
            return (
                await scalar(gb_app, select(GbUpperAlarm.sent_at).where(GbUpperAlarm.alarm_id == alarm_id))
                is not None
            )

        await until(gb_app, sent, True, "the alarm confirmed by the upper")
        alarms = [
            a for a in upper.of("Alarm") if a.doc and a.doc.text("AlarmDescription").endswith(f"#{alarm_id}")
        ]
        assert len(alarms) == 2 and len({a.doc.sn for a in alarms if a.doc is not None}) == 1
        attempts = await scalar(
            gb_app, select(GbUpperAlarm.attempts).where(GbUpperAlarm.alarm_id == alarm_id)
        )
        assert attempts == 2
        doc = alarms[1].doc
        assert doc is not None and doc.text("AlarmMethod") == "1" and doc.text("Longitude")
        info = find(doc.element, "Info")
        assert info is not None
        related = [e.text for e in find(info, "RelatedChannels") or []]
        assert related and set(related) <= set(channels.values()) and doc.device_id == related[0]

        # PTZ from the upper reaches a GB camera (its channel ID is the camera's own 131 code), under the
        # console's rule: the upper now holds it, so an operator is refused, told who holds it
        dev_id, chan = gb_id("51322310", 118, 701), gb_id("51322310", 131, 701)
        dev = await FakeDevice(dev_id, PLATFORM_ID, DOMAIN, platform(gb_app).port).open()
        dev.catalog = [(chan, "村口球机")]
        try:
            assert (await dev.register(SHARED)).status == 200
            pk = int(await scalar(gb_app, select(GbDevice.id).where(GbDevice.device_id == dev_id)))
            stored = select(func.count()).select_from(GbChannel).where(GbChannel.device_pk == pk)
            await until(gb_app, lambda: scalar(gb_app, stored), 1, "the device's catalog")
            r = await admin.put(f"/api/v1/gb28181/devices/{pk}/region", json={"region_id": village})
            ptz_camera = r.json()["channels"][0]["camera_id"]
            r = await admin.put(f"{API}/{upper_id}/channels/{ptz_camera}", json={"shared": True})
            assert r.json()["channel_id"] == chan
            await dev.keepalive()
            control = upper.query("DeviceControl", chan, 10, root="Control", PTZCmd=UP)
            assert (await upper.request("MESSAGE", chan, control, Content_Type=MANSCDP)).status == 200
            await wait_until(
                lambda: any(UP.encode() in q.body for q in dev.received), 3, "the relayed PTZCmd"
            )
            r = await operator.post(f"/api/v1/gb28181/cameras/{ptz_camera}/ptz", json={"action": "left"})
            assert r.status_code == 409 and f"upper platform {UPPER_ID}" in r.json()["message"], r.text
            relayed = select(AuditEvent.actor).where(AuditEvent.action == "gb28181.upper.ptz")
            assert await scalar(gb_app, relayed) == f"upper platform {UPPER_ID}"
            # the upper moved it by hand: its masked picture is filled whole (ADR 0012, addendum)
            moved = select(CameraPtzPosition.cause).where(
                CameraPtzPosition.camera_id == ptz_camera, CameraPtzPosition.preset.is_(None)
            )
            assert await scalar(gb_app, moved) == "move"
        finally:
            dev.close()

        # the upper restarts and forgets us: a keepalive answered 403 makes the link register again
        await upper.wait_for(lambda s: s.doc is not None and s.doc.cmd == "Keepalive", "a keepalive")
        count = len([s for s in upper.seen if s.msg.method == "REGISTER"])
        upper.answers["Keepalive"] = [403]
        await upper.wait_for(
            lambda s: s.msg.method == "REGISTER" and upper.seen.index(s) >= count, "a new REGISTER", 8.0
        )
        await until(gb_app, state, "registered", "the link registered again")
        page = await admin.get("/cascade")  # the console page that shows the links (zh-CN first)
        assert page.status_code == 200 and "上级平台" in page.text and "gb28181/cascade.js" in page.text
        assert (await operator.get("/cascade")).status_code == 404
        out = (await admin.get(f"{API}/{upper_id}")).json()
        assert out["catalog_at"] and out["last_keepalive"] and out["alarms_pending"] == 0
        assert out["shared"] == 4 and out["state"] == "registered"
        # removed (the other tests' apps share this database): gone for the API and for the node
        assert (await admin.delete(f"{API}/{upper_id}")).status_code == 204
        assert (await admin.get(f"{API}/{upper_id}")).status_code == 404
