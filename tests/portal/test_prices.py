"""Produce prices: the day's table with the change since the previous day, movers, 30-day series, and
the subscriptions that turn a newly published price into a notice (every price, a percentage move, or
a level crossed), each user's own only."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.support.alarms import Login
from xueliang.portal.models import PriceSubscription
from xueliang.portal.service import alert_reason


async def product(c: httpx.AsyncClient, code: str) -> int:
    return next(p["id"] for p in (await c.get("/api/v1/portal/prices/products")).json() if p["code"] == code)


async def market(c: httpx.AsyncClient, code: str) -> int:
    return next(m["id"] for m in (await c.get("/api/v1/portal/prices/markets")).json() if m["code"] == code)


def sub(
    percent: float | None = None, above: int | None = None, below: int | None = None
) -> PriceSubscription:
    return PriceSubscription(threshold_percent=percent, above_fen=above, below_fen=below)


@pytest.mark.parametrize(
    ("subscription", "price", "previous", "reason"),
    [
        (sub(), 500, 480, "published"),
        (sub(percent=10), 528, 480, "threshold_percent"),  # +10 %
        (sub(percent=10), 430, 480, "threshold_percent"),  # -10.4 %
        (sub(percent=10), 520, 480, None),  # +8.3 %
        (sub(percent=10), 520, None, None),  # no previous day: no move to measure
        (sub(above=500), 500, 480, "above"),
        (sub(above=500), 520, 510, None),  # already past the level
        (sub(below=300), 290, 310, "below"),
        (sub(below=300), 280, None, "below"),
    ],
)
def test_alert_reasons(
    subscription: PriceSubscription, price: int, previous: int | None, reason: str | None
) -> None:
    assert alert_reason(subscription, price, previous) == reason


async def test_price_table_movers_and_series(plogin: Login) -> None:
    c = await plogin("res-v08")
    table = (await c.get("/api/v1/portal/prices")).json()
    assert len(table["items"]) == 20 * 3
    row = table["items"][0]
    assert row["previous"] is not None
    assert row["change"] == pytest.approx(row["price"] - row["previous"], abs=0.011)
    movers = (await c.get("/api/v1/portal/prices/movers", params={"limit": 3})).json()
    assert 0 < len(movers["risers"]) <= 3 and all(r["change_pct"] > 0 for r in movers["risers"])
    assert [r["change_pct"] for r in movers["fallers"]] == sorted(r["change_pct"] for r in movers["fallers"])
    series = (await c.get("/api/v1/portal/prices/series", params={"product_id": row["product_id"]})).json()
    assert [len(s["points"]) for s in series["series"]] == [30, 30, 30]
    assert (await c.get("/api/v1/portal/prices/series", params={"product_id": 999999})).status_code == 404


async def test_subscriptions_make_price_alerts_for_their_owner_only(plogin: Login) -> None:
    admin = await plogin("admin")
    ginger, walnut = await product(admin, "shengjiang"), await product(admin, "hetao")
    county, qingxi = await market(admin, "county"), await market(admin, "qingxi")
    # days of their own, long before the seed's, so other tests' "latest day" stays the seed's
    start, base = date(2020, 1, 1), 8.0

    alice, bob = await plogin("res-v09"), await plogin("res-v10")
    a = await alice.post("/api/v1/portal/subscriptions", json={"product_id": ginger, "threshold_percent": 10})
    assert a.status_code == 201, a.text
    b = await bob.post("/api/v1/portal/subscriptions", json={"product_id": ginger, "market_id": county})
    assert b.status_code == 201
    assert (
        await bob.post("/api/v1/portal/subscriptions", json={"product_id": ginger, "market_id": county})
    ).status_code == 409
    w = await bob.post("/api/v1/portal/subscriptions", json={"product_id": walnut, "price_above": 1000})
    assert w.status_code == 201

    # each sees and removes only their own
    assert [s["id"] for s in (await alice.get("/api/v1/portal/subscriptions")).json()] == [a.json()["id"]]
    missing = await alice.delete("/api/v1/portal/subscriptions/999999")
    assert missing.status_code == 404
    assert (await alice.delete(f"/api/v1/portal/subscriptions/{b.json()['id']}")).json() == missing.json()

    async def publish(day: date, price: float, market_id: int = county) -> dict[str, int]:
        body = {
            "day": day.isoformat(),
            "items": [{"product_id": ginger, "market_id": market_id, "price": price}],
        }
        r = await admin.post("/api/v1/portal/admin/prices", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert (await publish(start, base))["alerts"] == 1  # bob: any new price; alice: nothing to compare
    day1 = start + timedelta(days=1)
    assert (await publish(day1, round(base * 1.05, 2)))["alerts"] == 1  # bob again; alice: +5 % < 10 %
    day2 = start + timedelta(days=2)
    assert (await publish(day2, round(base * 1.05 * 1.2, 2)))["alerts"] == 2  # +20 %: both
    assert (await publish(day2, round(base * 1.05 * 1.2, 2)))["alerts"] == 0  # the same again: nothing new
    # another market: bob follows the county market only; alice has no earlier price there to compare
    assert (await publish(day2 + timedelta(days=20), 9.99, qingxi))["alerts"] == 0

    alerts = (await alice.get("/api/v1/portal/price-alerts", params={"unread": "true"})).json()
    assert [x["reason"] for x in alerts["items"]] == ["threshold_percent"]
    first = alerts["items"][0]
    assert first["day"] == day2.isoformat() and first["change_pct"] == pytest.approx(20, abs=0.3)
    assert "生姜" in first["message"] and "Ginger" in first["message_en"]
    assert (await alice.get("/api/v1/portal/banner")).json()["price_alerts_unread"] == 1
    bob_alerts = (await bob.get("/api/v1/portal/price-alerts")).json()["items"]
    assert sorted(x["reason"] for x in bob_alerts) == ["published", "published", "published"]
    stranger = await bob.post(f"/api/v1/portal/price-alerts/{first['id']}/read")
    assert stranger.status_code == 404
    assert (await alice.post(f"/api/v1/portal/price-alerts/{first['id']}/read")).status_code == 204
    assert (await alice.get("/api/v1/portal/banner")).json()["price_alerts_unread"] == 0
