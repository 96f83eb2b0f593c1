"""Statistics from the seed's 7 days of history: per village and worker, by day and by week, as JSON
and CSV, only within the caller's area; the board of a station."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from tests.grid.conftest import TZ, local
from tests.support.alarms import Login

API = "/api/v1/grid"


async def test_stats_by_day_week_and_worker(glogin: Login) -> None:
    op = await glogin("op-qingxi")
    today = local().astimezone(TZ).date()
    since, until = today - timedelta(days=7), today - timedelta(days=1)
    params = {"since": since.isoformat(), "until": until.isoformat()}
    days = (await op.get(f"{API}/stats", params=params)).json()
    villages = {"上坪村", "河坝村", "桃园村", "松林村", "龙洞村"}
    assert {r["region_name"] for r in days} == villages | {"清溪镇"}  # Qingxi only; the station's tours
    assert {date.fromisoformat(r["day"]) for r in days} == {since + timedelta(days=n) for n in range(7)}
    assert all(r["runs"] == 1 for r in days if r["region_name"] in villages)  # a route a village, daily
    assert sum(r["visits_done"] for r in days) > 0 and sum(r["checkpoints_missed"] for r in days) > 0
    assert sum(r["ok_answered"] for r in days) > 0 and sum(r["tours_done"] for r in days) > 0

    weeks = (await op.get(f"{API}/stats", params=params | {"period": "week"})).json()
    assert {date.fromisoformat(r["day"]).weekday() for r in weeks} == {0}
    for field in ("runs", "visits_done", "visits_missed", "checkpoints_missed", "incidents", "tours_done"):
        assert sum(r[field] for r in weeks) == sum(r[field] for r in days), field

    workers = (await op.get(f"{API}/stats", params=params | {"by": "worker"})).json()
    assert {r["username"] for r in workers if r["visits_done"]} == {f"gw-0{n}" for n in range(1, 6)}

    # incidents per category add up to the incidents; per station (township) the villages add up
    assert all(r["incidents"] == sum(v for k, v in r.items() if k.startswith("cat_")) for r in days)
    assert sum(r["incidents"] for r in days) > 0
    stations = (await op.get(f"{API}/stats", params=params | {"by": "station"})).json()
    assert {r["region_name"] for r in stations} == {"清溪镇"}
    for field in (
        "runs",
        "visits_done",
        "visits_late",
        "ok_answered",
        "incidents",
        "cat_other",
        "tours_done",
    ):
        assert sum(r[field] for r in stations) == sum(r[field] for r in days), field

    exported = await op.get(f"{API}/stats.csv", params=params)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == len(days) and rows[0]["region_name"] == days[0]["region_name"]
    assert rows[0]["cat_road_traffic"] == str(days[0]["cat_road_traffic"])

    bad = await op.get(f"{API}/stats", params={"since": until.isoformat(), "until": since.isoformat()})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_range"


async def test_station_board(glogin: Login) -> None:
    op = await glogin("op-shimen")
    board = (await op.get(f"{API}/board")).json()
    assert len(board["runs"]) == 5  # the five Shimen villages' routes run today
    assert {t["slot"] for t in board["tours"]} == {"09:00", "15:00", "21:00"}
    assert board["open_incidents"] and all(i["age_hours"] >= 0 for i in board["open_incidents"])
    assert {w["username"] for w in board["visits"]} == {f"gw-{n:02d}" for n in range(6, 11)}
