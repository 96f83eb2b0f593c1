"""Three real nodes (the county, Qingxi township, Shangping village), each with its own data dir, SQLite
file and nats-server, joined with `xueliang node invite/join`, the village's leaf link through a TCP
fault proxy: alarms up exactly once and in order across cuts (and on to the county through the
township), state changes down two levels, catalog, regions and deletions up, notices and mobilization
down, the link-down alarm and convergence after a ten-minute cut (a controlled clock), anchors."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.federation.faultproxy import FaultProxy
from tests.federation.linkkit import COUNTY, HEBA, QINGXI, SHANGPING, Node, make_node
from tests.support.db import seed_database
from tests.support.waits import wait_for

from xueliang.config import load_settings
from xueliang.federation.envelope import Envelope, seal
from xueliang.federation.identity import NodeIdentity
from xueliang.federation.natsd import secret_for


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fed-template") / "template.db"
    seed_database(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def chain(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, Node, Node, FaultProxy]]:
    """Three levels: the county, the township joined to it, and the village (joined in the first test),
    whose leaf link to the township runs through a fault proxy."""
    root = tmp_path_factory.mktemp("fed")
    top = make_node(template, root / "county", "county", COUNTY)
    town = make_node(template, root / "town", "town", QINGXI)
    village = make_node(template, root / "village", "village", SHANGPING)
    proxy = FaultProxy(town.leaf_port).start()
    town.leaf_advertise = f"127.0.0.1:{proxy.port}"  # the village dials the township through the proxy
    town.write_config()
    top.start()
    try:
        _rc, code = top.cli("node", "invite", "--region", QINGXI)
        rc, out = town.cli("node", "join", top.url, code.strip())
        assert rc == 0, out
        town.start()
        yield top, town, village, proxy
    finally:
        village.stop()
        town.stop()
        top.stop()
        proxy.close()


@pytest.fixture(scope="module")
def link(chain: tuple[Node, Node, Node, FaultProxy]) -> tuple[Node, Node, FaultProxy]:
    return chain[1], chain[2], chain[3]


@pytest.fixture(scope="module")
def county(chain: tuple[Node, Node, Node, FaultProxy]) -> Node:
    return chain[0]


def test_enrollment_refuses_reuse_expiry_and_forgery_then_joins(link: tuple[Node, Node, FaultProxy]) -> None:
    town, village, _proxy = link
    rc, out = village.cli("node", "join", town.url, "AAAA-BBBB-CCCC-DDDD")
    assert rc == 1 and "unknown enrollment code (invalid_code)" in out, out
    rc, out = town.cli("node", "invite", "--region", "513223102201")  # Shimen village's, not Shangping's
    assert rc == 0, out
    rc, out = village.cli("node", "join", town.url, out.strip())
    assert rc == 1 and "wrong_region" in out, out
    rc, code = town.cli("node", "invite", "--minutes", "1")
    town.query("UPDATE federation_invites SET expires_at = '2000-01-01 00:00:00.000000'")
    rc, out = village.cli("node", "join", town.url, code.strip())
    assert rc == 1 and "code_expired" in out, out
    assert village.query("SELECT count(*) FROM nodes WHERE public_key IS NOT NULL") == [(0,)]

    rc, code = town.cli("node", "invite", "--region", SHANGPING)
    rc, out = village.cli("node", "join", town.url, code.strip())
    assert rc == 0 and "joined" in out, out
    rc, out = village.cli("node", "join", town.url, code.strip())
    assert rc == 1 and "code_used" in out, out
    assert town.query(
        "SELECT count(*) FROM nodes WHERE gb_id = ? AND public_key IS NOT NULL", village.gb
    ) == [(1,)]
    # A grid the village made for itself, unknown at the township until the village's tree goes up.
    ((sp_id, sp_path),) = village.query("SELECT id, path FROM regions WHERE code = ?", SHANGPING)
    village.query(
        "INSERT INTO regions (code, name, name_en, level, parent_id, path, households, population) "
        "VALUES (?, '上坪村三组', 'Shangping group 3', 'grid', ?, ?, 12, 40)",
        SHANGPING + "903",
        sp_id,
        f"{sp_path}{SHANGPING}903/",
    )
    village.start()
    wait_for(
        lambda: town.query("SELECT count(*) FROM cameras WHERE host_node_id IS NOT NULL")[0][0] >= 7,
        20,
        "the village's catalog at the township",
    )
    assert town.query("SELECT name, path, households FROM regions WHERE code = ?", SHANGPING + "903") == [
        ("上坪村三组", f"{sp_path}{SHANGPING}903/", 12)
    ]
    cams = town.query("SELECT stream_url FROM cameras WHERE host_node_id IS NOT NULL")
    assert all(url.startswith(f"node://{village.gb}/") for (url,) in cams)
    # The village records its cameras; the township never does (it pulls only while someone watches).
    assert village.query("SELECT count(*) FROM cameras WHERE record = 1")[0][0] > 0
    assert town.query("SELECT count(*) FROM cameras WHERE host_node_id IS NOT NULL AND record = 1") == [(0,)]
    cam_id, cam_gb = village.query(
        "SELECT c.id, c.gb_id FROM cameras c JOIN regions r ON r.id = c.region_id "
        "WHERE r.code = ? ORDER BY c.id",
        SHANGPING,
    )[0]
    with closing(village.client("admin")) as admin:
        r = admin.patch(f"/api/v1/cameras/{cam_id}", json={"name": "上坪村口东"})
        assert r.status_code == 200, r.text
    wait_for(
        lambda: (
            town.query("SELECT name, remote_id FROM cameras WHERE gb_id = ?", cam_gb)
            == [("上坪村口东", cam_id)]
        ),
        15,
        "the renamed camera at the township",
    )
    gone_id, gone_gb = village.query(
        "SELECT c.id, c.gb_id FROM cameras c JOIN regions r ON r.id = c.region_id "
        "WHERE r.code = ? ORDER BY c.id DESC",
        SHANGPING,
    )[0]
    with closing(village.client("admin")) as admin:
        assert admin.delete(f"/api/v1/cameras/{gone_id}").status_code == 204
    wait_for(
        lambda: town.query("SELECT count(*) FROM cameras WHERE gb_id = ?", gone_gb) == [(0,)],
        15,
        "the deleted camera gone at the township",
    )
    wait_for(lambda: "connected since" in village.cli("node", "status")[1], 15, "the link in node status")
    rc, out = village.cli("node", "status")
    assert rc == 0 and f"parent {town.gb}" in out and "queue " in out and "lag " in out, out
    for user, expected in (("admin", 200), ("op-qingxi", 403), ("res-v01", 403)):  # the status route's policy
        with closing(town.client(user)) as c:
            r = c.get("/api/v1/federation/status")
            assert r.status_code == expected, (user, r.text)
            assert expected != 200 or village.gb in [link["gb_id"] for link in r.json()["links"]]


def _press(village: Node, uid: str) -> None:
    with closing(village.client("res-v01")) as c:
        r = c.post("/api/v1/alarms", json={"uuid": uid, "source": "tv"})
        assert r.status_code in (200, 201), r.text


def test_alarms_go_up_once_in_order_across_cuts_and_state_comes_down(
    link: tuple[Node, Node, FaultProxy], county: Node
) -> None:
    town, village, proxy = link
    first = str(uuid.uuid4())
    _press(village, first)
    wait_for(
        lambda: county.query("SELECT count(*) FROM alarms WHERE uuid = ?", first)[0][0] == 1,
        15,
        "the village's alarm at the county, through the township",
    )
    assert town.query("SELECT count(*) FROM alarms WHERE uuid = ?", first) == [(1,)]

    proxy.set("blackhole")
    with closing(village.client("duty-v01")) as c:
        uids = [str(uuid.uuid4()) for _ in range(20)]
        for uid in uids:  # raised by the duty officer at places: each its own alarm
            r = c.post("/api/v1/alarms", json={"uuid": uid, "source": "pc", "region_id": _region(village)})
            assert r.status_code in (200, 201), r.text
    proxy.set("cut")
    assert _have(village, uids) == uids
    assert _have(town, uids) == []  # held at the village while the link is down
    # A camera renamed at the village during the cut, then ten minutes pass (both clocks jump): each end
    # raises its link-down alarm (link_down_after_s is 30 s), and the catalog converges once the link
    # is back.
    cam_id, cam_gb = village.query(
        "SELECT c.id, c.gb_id FROM cameras c JOIN regions r ON r.id = c.region_id "
        "WHERE r.code = ? ORDER BY c.id",
        SHANGPING,
    )[0]
    with closing(village.client("admin")) as admin:
        assert (
            admin.patch(f"/api/v1/cameras/{cam_id}", json={"name": "上坪村口（断网时改名）"}).status_code
            == 200
        )
    for node in (town, village):
        node.skew(600)
    link_down = "SELECT state, region_path FROM alarms WHERE kind = 'link_down'"
    wait_for(
        lambda: len(village.query(link_down)) == 1 and len(town.query(link_down)) == 1,
        30,
        "a link-down technical alarm at each end",
    )
    proxy.set("pass")
    wait_for(lambda: len(_have(town, uids)) == 20, 30, "the queued alarms after the cut")
    wait_for(
        lambda: (
            town.query("SELECT name FROM cameras WHERE gb_id = ?", cam_gb) == [("上坪村口（断网时改名）",)]
        ),
        15,
        "the catalog converged after the cut",
    )
    for node in (town, village):
        node.skew(0)  # back to the real clock: the CLI's signed anchor fetch below has a 5-minute window
    # Each end's own alarm, in the village's region at both (never relayed), latched until a person
    # closes it although the link is back.
    assert village.query(link_down) == town.query(link_down)
    assert village.query(link_down)[0][0] == "new"
    for node, peer in ((village, town), (town, village)):
        detail = node.query(
            "SELECT e.detail FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
            "WHERE a.kind = 'link_down' AND e.action = 'raised'"
        )
        assert len(detail) == 1 and peer.gb in detail[0][0], detail
    assert _have(town, uids) == uids, [uids.index(u) for u in _have(town, uids)]  # in the village's order
    assert town.query("SELECT count(*) FROM federation_inbox GROUP BY msg_id HAVING count(*) > 1") == []

    (county_alarm,) = county.query("SELECT id FROM alarms WHERE uuid = ?", first)[0]
    with closing(county.client("admin")) as admin:  # the county's acknowledgement comes down two levels
        r = admin.post(f"/api/v1/alarms/{county_alarm}/acknowledge", json={"note": "on it"})
        assert r.status_code == 200, r.text
    wait_for(
        lambda: village.query("SELECT state FROM alarms WHERE uuid = ?", first) == [("acknowledged",)],
        15,
        "the county's acknowledgement at the village",
    )
    (alarm_id,) = town.query("SELECT id FROM alarms WHERE uuid = ?", first)[0]

    # The township calls out the village's guards: the village's own plan gives its volunteers tasks.
    with closing(town.client("op-qingxi")) as op:
        r = op.post(f"/api/v1/alarms/{alarm_id}/mobilize")
        assert r.status_code == 201, r.text
    tasks = (
        "SELECT u.username FROM mobilization_tasks t JOIN mobilizations m ON m.id = t.mobilization_id "
        "JOIN alarms a ON a.id = m.alarm_id JOIN users u ON u.id = t.user_id WHERE a.uuid = ? ORDER BY t.id"
    )
    wait_for(lambda: bool(village.query(tasks, first)), 10, "the mobilization at the village")
    guard = village.query(tasks, first)[0][0]
    with closing(village.client(guard)) as phone:
        mine = phone.get("/api/v1/alarms/tasks/mine")
        assert mine.status_code == 200 and len(mine.json()) >= 1, mine.text
    assert village.query(
        "SELECT e.actor FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
        "WHERE a.uuid = ? AND e.action = 'mobilized'",
        first,
    ) == [(f"node:{town.gb}",)]
    # Up at the county it is history only: no plan of the county's is run for the township's call-out.
    wait_for(
        lambda: (
            county.query(
                "SELECT e.actor FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
                "WHERE a.uuid = ? AND e.action = 'mobilized'",
                first,
            )
            == [(f"node:{town.gb}",)]
        ),
        10,
        "the township's mobilization in the county's history",
    )
    assert county.query("SELECT count(*) FROM mobilizations") == [(0,)]

    # Notices published at the township go down to the village's TVs; one aimed elsewhere does not.
    shimen = town.query("SELECT id FROM regions WHERE code = '513223102'")[0][0]
    with closing(town.client("admin")) as admin:
        r = admin.post("/api/v1/portal/notices", json={"region_id": shimen, "title": "石门乡停水通知"})
        assert r.status_code == 201, r.text
    with closing(town.client("op-qingxi")) as op:
        qingxi = town.query("SELECT id FROM regions WHERE code = ?", town.region)[0][0]
        r = op.post(
            "/api/v1/portal/notices",
            json={"region_id": qingxi, "urgent": True, "title": "山洪预警", "body": "请沿河农户立即转移。"},
        )
        assert r.status_code == 201, r.text
        notice_id = r.json()["id"]
    with closing(village.client("res-v01")) as tv:

        def banner() -> list[str]:
            r = tv.get("/api/v1/portal/banner")
            assert r.status_code == 200, r.text
            return [n["title"] for n in r.json()["urgent"]]

        wait_for(lambda: "山洪预警" in banner(), 15, "the township's urgent notice on the village's TV")
        with closing(town.client("op-qingxi")) as op:
            r = op.post(f"/api/v1/portal/notices/{notice_id}/withdraw")
            assert r.status_code == 200, r.text
        wait_for(lambda: "山洪预警" not in banner(), 15, "the withdrawal on the village's TV")
    assert village.query("SELECT count(*) FROM portal_notices WHERE title = '石门乡停水通知'") == [(0,)]


def test_a_village_killed_mid_forward_delivers_each_alarm_once_in_order(
    link: tuple[Node, Node, FaultProxy], template: Path, tmp_path: Path
) -> None:
    """Heba village as a process of its own; alarms at both villages while the link is black-holed,
    then a slow link, and Heba SIGKILLed while it forwards; after its restart (on the same data dir
    and database) every alarm is at the
    township once, in each village's order, and the township's acknowledgements reach the villages."""
    town, village, proxy = link
    heba = make_node(template, tmp_path / "heba", "heba", HEBA, serial=6)
    heba.write_config(relay_batch=5)  # small rounds, so that the kill falls between them
    _rc, code = town.cli("node", "invite", "--region", HEBA)
    rc, out = heba.cli("node", "join", town.url, code.strip(), "--region", HEBA, "--name", "河坝村平台")
    assert rc == 0, out
    heba.spawn()
    try:
        proxy.set("blackhole")
        at_heba = [str(uuid.uuid4()) for _ in range(30)]
        at_shangping = [str(uuid.uuid4()) for _ in range(10)]
        _raise(heba, "duty-v02", at_heba)
        _raise(village, "duty-v01", at_shangping)
        assert _have(town, at_heba + at_shangping) == []
        proxy.set("pass", delay=0.1)  # slow: the backlog trickles
        wait_for(lambda: len(_have(town, at_heba)) >= 1, 30, "Heba's first alarms at the township")
        heba.kill()  # mid-forward
        heba.start()  # again, in this process this time (quicker than a second interpreter)
        proxy.set("pass")
        wait_for(lambda: len(_have(town, at_heba + at_shangping)) == 40, 60, "every alarm at the township")
        assert _have(town, at_heba) == at_heba and _have(town, at_shangping) == at_shangping
        raised = town.query(
            "SELECT a.uuid, count(*) FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
            "WHERE e.action = 'raised' GROUP BY a.uuid HAVING count(*) > 1"
        )
        assert raised == []
        with closing(town.client("op-qingxi")) as op:
            for uid in (at_heba[0], at_heba[-1], at_shangping[0]):
                (alarm_id,) = town.query("SELECT id FROM alarms WHERE uuid = ?", uid)[0]
                r = op.post(f"/api/v1/alarms/{alarm_id}/acknowledge", json={})
                assert r.status_code == 200, r.text
        wait_for(
            lambda: (
                heba.query(
                    "SELECT count(*) FROM alarms WHERE state = 'acknowledged' AND uuid IN (?, ?)",
                    at_heba[0],
                    at_heba[-1],
                )
                == [(2,)]
                and village.query("SELECT state FROM alarms WHERE uuid = ?", at_shangping[0])
                == [("acknowledged",)]
            ),
            20,
            "the acknowledgements at both villages",
        )
    finally:
        heba.stop()


def _raise(node: Node, user: str, uids: list[str]) -> None:
    with closing(node.client(user)) as c:
        region = _region(node)
        for uid in uids:
            r = c.post("/api/v1/alarms", json={"uuid": uid, "source": "pc", "region_id": region})
            assert r.status_code in (200, 201), r.text


def _region(node: Node) -> int:
    return int(node.query("SELECT id FROM regions WHERE code = ?", node.region)[0][0])


def _have(node: Node, uids: list[str]) -> list[str]:
    """Those of `uids` the node holds, in the order it stored them."""
    wanted = set(uids)
    return [u for (u,) in node.query("SELECT uuid FROM alarms ORDER BY id") if u in wanted]


def test_audit_verify_reports_deleted_newest_rows_against_the_parents_anchor(
    link: tuple[Node, Node, FaultProxy],
) -> None:
    town, village, _proxy = link
    (head,) = village.query("SELECT max(seq) FROM audit_events")[0]
    wait_for(
        lambda: town.query("SELECT max(seq) FROM federation_audit_anchors")[0][0] == head,
        15,
        "the village's audit head anchored at the township",
    )
    rc, out = village.cli("audit", "verify")
    assert rc == 0 and f"matches the parent's anchor at row {head}" in out, out
    village.query("DROP TRIGGER audit_no_delete")  # an intruder with the database file
    village.query("DELETE FROM audit_events WHERE seq > ?", head - 3)  # the newest three rows
    rc, out = village.cli("audit", "verify")
    assert rc == 1 and "newest audit rows were deleted" in out and f"anchor at row {head}" in out, out


def _masks_of(node: Node, camera_gb: str) -> list[tuple[str, str, str]]:
    return node.query(
        "SELECT m.label, m.points, m.created_by FROM camera_masks m JOIN cameras c ON c.id = m.camera_id "
        "WHERE c.gb_id = ? ORDER BY m.id",
        camera_gb,
    )


def test_masks_travel_up_with_the_catalog_and_fail_closed_while_unknown(
    chain: tuple[Node, Node, Node, FaultProxy],
) -> None:
    county, town, village, _proxy = chain
    cam_id, cam_gb = village.query(
        "SELECT c.id, c.gb_id FROM cameras c JOIN regions r ON r.id = c.region_id WHERE r.code = ? "
        "ORDER BY c.id LIMIT 1",
        SHANGPING,
    )[0]
    drawn = [{"label": "王家窗户", "points": [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]}]
    with closing(village.client("admin")) as admin:
        r = admin.put(f"/api/v1/cameras/{cam_id}/masks", json={"masks": drawn})
        assert r.status_code == 200, r.text
    want = _masks_of(village, cam_gb)
    assert [row[0] for row in want] == ["王家窗户"]
    # Every column of the rows travels (who drew it included), to the township and on to the county.
    wait_for(lambda: _masks_of(town, cam_gb) == want, 15, "the village's masks at the township")
    wait_for(lambda: _masks_of(county, cam_gb) == want, 15, "the village's masks at the county")
    assert town.query(
        "SELECT count(*) FROM audit_events WHERE action = 'camera.masks' AND actor = ?", f"node:{village.gb}"
    ) == [(1,)]

    # A camera message that says nothing of masks (a node of an older version): the whole picture is
    # masked at the parent until its owner's masks are known.
    body = {
        "gb_id": "51322300001329999999",
        "name": "上坪村旧版",
        "name_en": "",
        "lat": 31.5,
        "lon": 103.6,
        "kind": "settlement",
        "region_code": SHANGPING,
        "remote_id": 99999,
        "status": None,
    }
    subj = f"xl.{town.gb}.{village.gb}.camera"
    data, headers = _envelope(village, town.gb, body, kind="camera")
    asyncio.run(_publish(town, subj, data, headers))
    wait_for(lambda: bool(_masks_of(town, body["gb_id"])), 10, "the unknown camera at the township")
    ((label, points, _by),) = _masks_of(town, body["gb_id"])
    assert "not yet known" in label and json.loads(points) == [[0, 0], [1, 0], [1, 1], [0, 1]]
    data, headers = _envelope(village, town.gb, {**body, "masks": []}, kind="camera")  # now it says: none
    asyncio.run(_publish(town, subj, data, headers))
    wait_for(lambda: _masks_of(town, body["gb_id"]) == [], 10, "the owner's word (no masks) at the township")


def test_county_content_reaches_every_node_below_and_is_owned_above(
    chain: tuple[Node, Node, Node, FaultProxy],
) -> None:
    county, town, village, _proxy = chain
    dept_id, dept_code = county.query("SELECT id, code FROM portal_departments ORDER BY id LIMIT 1")[0]
    job_id = county.query("SELECT id FROM portal_jobs WHERE published = 1 ORDER BY id LIMIT 1")[0][0]
    product, market, day = county.query(
        "SELECT product_id, market_id, max(day) FROM portal_prices GROUP BY product_id, market_id "
        "ORDER BY product_id, market_id LIMIT 1"
    )[0]
    product_code = county.query("SELECT code FROM portal_products WHERE id = ?", product)[0][0]
    with closing(county.client("editor")) as editor:
        r = editor.patch(f"/api/v1/portal/admin/departments/{dept_id}", json={"name": "县人社局（新址）"})
        assert r.status_code == 200, r.text
        r = editor.patch(f"/api/v1/portal/admin/jobs/{job_id}", json={"title": "县城保安（急招）"})
        assert r.status_code == 200, r.text
        r = editor.post(
            "/api/v1/portal/admin/prices",
            json={"day": day, "items": [{"product_id": product, "market_id": market, "price": 12.34}]},
        )
        assert r.status_code == 200, r.text
        r = editor.post(
            "/api/v1/portal/admin/jobs",
            json={"title": "村级护林员", "employer": "县林业局", "city": "松潘", "date_posted": day,
                  "valid_through": "2099-01-01T00:00:00+00:00", "published": True},
        )  # fmt: skip
        assert r.status_code == 201, r.text

    def at(node: Node) -> tuple[Any, ...]:
        name = node.query("SELECT name FROM portal_departments WHERE code = ?", dept_code)
        jobs = node.query(
            "SELECT count(*) FROM portal_jobs WHERE title IN ('县城保安（急招）', '村级护林员')"
        )
        price = node.query(
            "SELECT p.price_fen FROM portal_prices p JOIN portal_products d ON d.id = p.product_id "
            "WHERE d.code = ? AND p.day = ? ORDER BY p.price_fen",
            product_code,
            day,
        )
        return name[0][0] if name else None, jobs[0][0], [f for (f,) in price]

    # Two hops down: the township passes the county's content on to the village.
    wait_for(lambda: at(town)[:2] == ("县人社局（新址）", 2), 20, "the county's content at the township")
    wait_for(lambda: at(village)[:2] == ("县人社局（新址）", 2), 20, "the county's content at the village")
    assert 1234 in at(village)[2]
    # The village TV reads it like its own content.
    with closing(village.client("editor")) as editor:
        (mine,) = village.query("SELECT id FROM portal_departments WHERE code = ?", dept_code)[0]
        r = editor.get(f"/api/v1/portal/departments/{mine}")
        assert r.status_code == 200 and r.json()["name"] == "县人社局（新址）", r.text
        # Owned above: refused at the village, with the reason, and nothing changed.
        r = editor.patch(f"/api/v1/portal/admin/departments/{mine}", json={"name": "村里改的"})
        assert r.status_code == 409 and r.json()["code"] == "owned_above", r.text
        (job,) = village.query("SELECT id FROM portal_jobs WHERE title = '村级护林员'")[0]
        r = editor.post(f"/api/v1/portal/admin/jobs/{job}/unpublish")
        assert r.status_code == 409 and "owned above" in r.json()["message"], r.text
        r = editor.post(  # nor overwritten by an import
            "/api/v1/portal/admin/import/departments",
            content=json.dumps([{"code": dept_code, "name": "导入改的"}]),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and "owned above" in r.text, r.text
    assert at(village)[0] == "县人社局（新址）"


def _envelope(
    node: Node, to: str, body: dict[str, Any], key_dir: Path | None = None, kind: str = "alarm"
) -> tuple[bytes, dict[str, str]]:
    identity = NodeIdentity.load(node.gb, key_dir or node.root)
    env = Envelope(f"test-{uuid.uuid4()}", node.gb, to, kind, datetime.now(UTC), body)
    return seal(identity, env)


async def _publish(town: Node, subj: str, data: bytes, headers: dict[str, str]) -> None:
    import nats

    password = secret_for(load_settings(town.config).resolved_secret_key(), "nats-local")
    nc = await nats.connect(f"nats://local:{password}@127.0.0.1:{town.nats_port}")
    try:
        await nc.jetstream().publish(subj, data, headers=headers, timeout=5)
    finally:
        await nc.close()


def test_forged_malformed_replayed_and_revoked_messages_are_refused(
    link: tuple[Node, Node, FaultProxy], tmp_path: Path
) -> None:
    town, village, _proxy = link
    uid = str(uuid.uuid4())
    body = {
        "uuid": uid,
        "kind": "emergency",
        "source": "tv",
        "region_code": SHANGPING,
        "event": {"id": 0, "action": "raised", "at": datetime.now(UTC).isoformat()},
    }
    subj = f"xl.{town.gb}.{village.gb}.alarm"
    forged, headers = _envelope(village, town.gb, body, key_dir=tmp_path)  # another key, the village's name
    asyncio.run(_publish(town, subj, forged, headers))
    malformed, headers = _envelope(village, town.gb, {"kind": "emergency"})  # signed, but no alarm in it
    asyncio.run(_publish(town, subj, malformed, headers))
    genuine, headers = _envelope(village, town.gb, body)
    asyncio.run(_publish(town, subj, genuine, headers))
    wait_for(lambda: len(_have(town, [uid])) == 1, 10, "the genuine message applied")
    headers["Nats-Msg-Id"] = "another-id"  # past JetStream's de-duplication: the inbox refuses it
    asyncio.run(_publish(town, subj, genuine, headers))

    def status() -> dict[str, Any]:
        with closing(town.client("admin")) as admin:
            r = admin.get("/api/v1/federation/status")
            assert r.status_code == 200, r.text
            return next(link for link in r.json()["links"] if link["gb_id"] == village.gb)

    wait_for(lambda: status()["refused"] >= 3, 10, "three refusals in the link's status")
    assert "replayed" in status()["last_error"]
    assert len(_have(town, [uid])) == 1

    rc, out = town.cli("node", "revoke", village.gb)
    assert rc == 0 and "its link is closed" in out, out
    # A message the parent's stream took in the instant before its server went down is refused by the
    # revoked key (below); once the village sees its link down, nothing more gets through at all.
    wait_for(lambda: ": down;" in village.cli("node", "status")[1], 20, "the village's link down")
    late = str(uuid.uuid4())
    _press(village, late)
    again, headers = _envelope(village, town.gb, {**body, "uuid": str(uuid.uuid4())})
    asyncio.run(_publish(town, subj, again, headers))
    wait_for(
        lambda: "unknown or revoked" in status()["last_error"] or status()["revoked"],
        10,
        "the revoked refusal",
    )
    wait_for(
        lambda: village.query("SELECT count(*) FROM federation_outbox WHERE sent_at IS NULL")[0][0] > 0,
        20,
        "the village's alarm held in its outbox",
    )
    assert _have(town, [late]) == []
