"""/metrics in Prometheus text format, for loopback or a bearer token only (anyone else: the same 404
as a missing path); what it reports moves with the node (alarm intake, open alarms); /readyz."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.support.app import LoggedIn, make_settings
from tests.support.db import seed_database
from tests.support.waits import wait_until
from xueliang.app import create_app
from xueliang.ops.config import OpsSettings
from xueliang.ops.metrics import NodeMetrics

TOKEN = "metrics-token-" + "y" * 20


@pytest.fixture
async def ops_app(make_db_url: Callable[[], str], tmp_path: Path) -> AsyncIterator[FastAPI]:
    url = make_db_url()
    seed_database(url)
    settings = make_settings(url, tmp_path, ops=OpsSettings(metrics_token=TOKEN))
    application = create_app(settings, migrate_on_start=False)
    async with application.router.lifespan_context(application):
        yield application


def client_from(app: FastAPI, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(host, 50100)), base_url="http://t"
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_report_the_node_to_loopback_or_a_token(ops_app: FastAPI) -> None:
    async with client_from(ops_app, "127.0.0.1") as local, client_from(ops_app, "203.0.113.9") as far:
        res = await LoggedIn(client_from(ops_app, "127.0.0.1")).login("res-v01")
        r = await res.post("/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "tv"})
        assert r.status_code == 201, r.text
        await res.aclose()
        registry = ops_app.state.ctx.services.require(NodeMetrics).registry
        raised = {"change": "raised"}
        # the listener runs after the commit, in its own task (core/events.py)
        await wait_until(lambda: registry.get_sample_value("xueliang_alarm_changes_total", raised) == 1.0)

        got = await local.get("/metrics")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
        seen = samples(got.text)
        assert seen[("xueliang_alarm_intake_seconds_count", ())] == 1.0
        assert seen[("xueliang_db_query_seconds_count", ())] > 0
        assert seen[("xueliang_open_alarms", (("state", "new"),))] >= 1.0
        assert seen[("xueliang_alarm_changes_total", (("change", "raised"),))] == 1.0
        assert ("process_resident_memory_bytes", ()) in seen and (
            "xueliang_recording_disk_free_bytes",
            (),
        ) in seen
        assert "secret" not in got.text and TOKEN not in got.text

        missing = await far.get("/api/v1/no-such-path")
        refused = await far.get("/metrics")
        wrong = await far.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == wrong.status_code == missing.status_code == 404
        assert refused.json() == wrong.json() and refused.json()["code"] == missing.json()["code"]
        proxied = await local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
        assert proxied.status_code == 404  # a reverse proxy on this machine does not open it to the world
        token = await far.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert token.status_code == 200 and "xueliang_open_alarms" in token.text

        ready = await far.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
