"""`/metrics` (Prometheus text format, the official client) and `/readyz`.

Collectors read the state the node already keeps (the media engine's camera health, the recorder's
storage health, the database pool) when Prometheus scrapes, so a quiet node pays nothing between
scrapes. What no object keeps is counted on the side: an ASGI wrapper times alarm intake requests
and counts WebSocket connections and bytes out, an event listener counts alarm changes, and one small
task samples the event loop's lag. Each app has its own registry (tests build many apps in one process).

Access: a bearer token (`ops.metrics_token`) from anywhere, or a client on loopback; anyone else gets
the same 404 as a path that does not exist, so the endpoint does not announce itself."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from alembic.script import ScriptDirectory
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select, text

from xueliang.alarms.events import AlarmChanged
from xueliang.alarms.models import Alarm, AlarmState
from xueliang.core import migrate
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.media.plane.leases import LeaseManager
from xueliang.media.plane.plane import MediaPlane
from xueliang.ops.config import OpsSettings
from xueliang.ops.logs import RequestContext
from xueliang.recordings.runtime import RecordingsNode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALARM_INTAKE = "/api/v1/alarms"
OPEN_STATES = [AlarmState.new, AlarmState.acknowledged, AlarmState.dispatched, AlarmState.on_scene]
INTAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_STARTED = "xueliang_ops_query_started"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def ws_kind(path: str) -> str:
    """Which socket a WebSocket path is, for the connection gauge (a fixed, small set of labels)."""
    if path.startswith("/api/v1/live/"):
        return "live"
    if path.startswith("/api/v1/alarms"):
        return "alarms"
    if path.startswith("/api/v1/cameras/events"):
        return "camera_events"
    return "other"


class NodeMetrics:
    """The registry of one app and the few things counted on the side."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        what = "Time to answer an alarm press (POST /api/v1/alarms), stored and routed"
        self.intake = Histogram("xueliang_alarm_intake_seconds", what, buckets=INTAKE_BUCKETS, registry=r)
        self.alarm_changes = Counter(
            "xueliang_alarm_changes",
            "Alarm changes by kind (raised, acknowledged, escalated, ...)",
            ["change"],
            registry=r,
        )
        self.websockets = Gauge(
            "xueliang_websocket_connections", "Open WebSocket connections", ["kind"], registry=r
        )
        self.bytes_out = Counter("xueliang_bytes_out", "Bytes sent to clients", ["kind"], registry=r)
        self.loop_lag = Gauge(
            "xueliang_event_loop_lag_seconds", "How late the last 1 s sleep woke up", registry=r
        )
        self.query = Histogram("xueliang_db_query_seconds", "Time of one SQL statement in the driver",
                               buckets=QUERY_BUCKETS, registry=r)  # fmt: skip
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.state = StateCollector(ctx)
        r.register(self.state)
        self.heads = frozenset(ScriptDirectory.from_config(migrate.alembic_config(ctx.db.url)).get_heads())

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def time_queries(self) -> Callable[[], None]:
        """Statement timing on the app's engine (two clock reads and one bucket add per statement);
        returns the undo."""
        engine = self.ctx.db.engine.sync_engine
        observe = self.query.observe

        def before(conn: Any, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
            conn.info.setdefault(_STARTED, []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
            started = conn.info.get(_STARTED)
            if started:
                observe(time.perf_counter() - started.pop())

        def failed(context: Any) -> None:  # a statement that raised has no "after": drop its start
            conn = context.connection
            started = conn.info.get(_STARTED) if conn is not None else None
            if started:
                started.pop()

        hooks = (("before_cursor_execute", before), ("after_cursor_execute", after), ("handle_error", failed))
        for name, fn in hooks:
            event.listen(engine, name, fn)

        def undo() -> None:
            for name, fn in hooks:
                event.remove(engine, name, fn)

        return undo


class StateCollector(Collector):
    """Reads the engine's, the recorder's and the pool's state at scrape time."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.open_alarms: dict[str, int] = {}  # refreshed by the /metrics route before each render

    def collect(self) -> Iterator[Any]:
        yield from self._cameras()
        yield from self._storage()
        yield from self._pool()
        gauge = GaugeMetricFamily("xueliang_open_alarms", "Alarms not yet closed, by state", labels=["state"])
        for state in OPEN_STATES:
            gauge.add_metric([state.value], self.open_alarms.get(state.value, 0))
        yield gauge

    def _cameras(self) -> Iterator[Any]:
        plane = self.ctx.services.get(MediaPlane)
        healths = plane.engine.health_all() if plane is not None else []
        by_state = GaugeMetricFamily(
            "xueliang_cameras", "Cameras pulled by the engine, by state", labels=["state"]
        )
        counts: dict[str, int] = {}
        fps = GaugeMetricFamily("xueliang_camera_ingest_fps", "Frames per second received", labels=["camera"])
        bps = GaugeMetricFamily(
            "xueliang_camera_ingest_bitrate_bps", "Bits per second received", labels=["camera"]
        )
        viewers = GaugeMetricFamily(
            "xueliang_camera_viewers", "Live viewers of the camera", labels=["camera"]
        )
        reconnects = CounterMetricFamily(
            "xueliang_camera_reconnects", "Reconnects since start", labels=["camera"]
        )
        drops = CounterMetricFamily(
            "xueliang_camera_drops", "Fragments viewers did not get", labels=["camera"]
        )
        for h in healths:
            counts[h.status.value] = counts.get(h.status.value, 0) + 1
            cam = str(h.camera_id)
            fps.add_metric([cam], h.fps)
            bps.add_metric([cam], h.bitrate_bps)
            viewers.add_metric([cam], h.viewers)
            reconnects.add_metric([cam], h.reconnects)
            drops.add_metric([cam], h.drops)
        for state, n in sorted(counts.items()):
            by_state.add_metric([state], n)
        total = GaugeMetricFamily(
            "xueliang_viewers", "Live viewers, all cameras", value=sum(h.viewers for h in healths)
        )
        yield from (by_state, fps, bps, viewers, reconnects, drops, total)

    def _storage(self) -> Iterator[Any]:
        node = self.ctx.services.get(RecordingsNode)
        if node is None:
            return
        h = node.health()
        yield GaugeMetricFamily(
            "xueliang_recording_disk_free_bytes", "Free bytes where recordings are kept", value=h.free_bytes
        )
        yield GaugeMetricFamily(
            "xueliang_recording_disk_total_bytes", "Size of the recordings' file system", value=h.total_bytes
        )
        yield GaugeMetricFamily(
            "xueliang_recording_guard_bytes", "Free bytes retention keeps", value=h.guard_bytes
        )
        yield GaugeMetricFamily("xueliang_recording_cameras", "Cameras being recorded", value=h.recording)
        yield GaugeMetricFamily(
            "xueliang_recording_errors", "Cameras whose recording fails now", value=len(h.failing)
        )
        yield GaugeMetricFamily("xueliang_recording_ok", "1 when storage is healthy", value=int(h.ok))
        if h.last_retention is not None:
            yield GaugeMetricFamily(
                "xueliang_retention_last_bytes",
                "Bytes the last retention run freed",
                value=h.last_retention["bytes"],
            )
        with contextlib.suppress(OSError):
            usage = shutil.disk_usage(self.ctx.settings.data_dir)
            yield GaugeMetricFamily(
                "xueliang_data_disk_free_bytes", "Free bytes in the data dir", value=usage.free
            )

    def _pool(self) -> Iterator[Any]:
        pool = self.ctx.db.engine.pool
        for name, what in (
            ("size", "Connections the pool keeps"),
            ("checkedout", "Connections in use"),
            ("overflow", "Connections above the pool size"),
        ):
            read = getattr(pool, name, None)
            if callable(read):
                yield GaugeMetricFamily(f"xueliang_db_pool_{name}", what, value=float(read()))


class Instrument:
    """ASGI wrapper: times alarm intake, counts WebSocket connections and bytes out. One comparison per
    request and an addition per message sent; nothing else on the hot path."""

    def __init__(self, app: ASGIApp, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http" and scope["path"] == ALARM_INTAKE and scope["method"] == "POST":
            started = time.perf_counter()
            try:
                await self.app(scope, receive, self._counting(send, "http"))
            finally:
                self.metrics.intake.observe(time.perf_counter() - started)
        elif kind == "http":
            await self.app(scope, receive, self._counting(send, "http"))
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = self.metrics.websockets.labels(ws_kind(scope["path"]))
        gauge.inc()
        try:
            await self.app(scope, receive, self._counting(send, "websocket"))
        finally:
            gauge.dec()

    def _counting(self, send: Send, kind: str) -> Send:
        counter = self.metrics.bytes_out.labels(kind)

        async def counted(message: Message) -> None:
            body = message.get("body") or message.get("bytes") or message.get("text") or b""
            if body:
                counter.inc(len(body))
            await send(message)

        return counted


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed(request: Request, settings: OpsSettings) -> bool:
    token = settings.metrics_token
    header = request.headers.get("authorization", "")
    if (
        token
        and header.lower().startswith("bearer ")
        and hmac.compare_digest(header[7:].strip().encode(), token.encode())
    ):
        return True
    if any(h in request.headers for h in PROXY_HEADERS):
        return False  # a reverse proxy on this machine is loopback too: its clients are not
    client = request.client.host if request.client else None
    return settings.metrics_loopback and _loopback(client)


async def open_alarms(ctx: AppContext) -> dict[str, int]:
    async with ctx.db.read_session() as s:
        rows = await s.execute(
            select(Alarm.state, func.count()).where(Alarm.state.in_(OPEN_STATES)).group_by(Alarm.state)
        )
        return {str(getattr(state, "value", state)): int(n) for state, n in rows.all()}


async def readiness(ctx: AppContext, heads: frozenset[str]) -> tuple[bool, dict[str, Any]]:
    """DB reachable within 2 s and at the revisions this code knows; a media process split off by role
    (ops/roles.py) also takes part in the camera lease rounds."""
    try:
        async with asyncio.timeout(2), ctx.db.read_session() as s:
            await s.execute(text("SELECT 1"))
            current = frozenset((await s.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception as exc:  # any failure to reach the database is "not ready"
        return False, {"code": "not_ready", "message": f"database unreachable: {type(exc).__name__}"}
    if current != heads:
        return False, {
            "code": "not_ready",
            "message": f"schema at {sorted(current)}, this version expects {sorted(heads)}: "
            "run `xueliang db upgrade`",
        }
    leases = ctx.services.get(LeaseManager)
    why = leases.ready() if leases is not None else None
    if why is not None:
        return False, {"code": "not_ready", "message": f"media role: {why}"}
    return True, {"status": "ready", "database": "ok", "schema": sorted(current), "role": ctx.settings.role}


def install(app: FastAPI, ctx: AppContext, settings: OpsSettings) -> list[StartupHook]:
    """Routes, the ASGI wrappers, the alarm listener; the hook runs the loop-lag sampler."""
    metrics = NodeMetrics(ctx)
    ctx.services.add(metrics)
    app.add_middleware(Instrument, metrics=metrics)
    if settings.log_format == "json":  # the request's fields for the JSON log lines (ops/logs.py)
        app.add_middleware(RequestContext, db_key=str(ctx.db.engine.url))

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if not allowed(request, settings):
            raise NotFound("not found")
        metrics.state.open_alarms = await open_alarms(ctx)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok, body = await readiness(ctx, metrics.heads)
        return JSONResponse(body, status_code=200 if ok else 503)

    async def count_change(event: AlarmChanged) -> None:
        metrics.alarm_changes.labels(event.change).inc()

    async def start(_ctx: AppContext) -> Stop:
        unsubscribe = ctx.events.subscribe(AlarmChanged, count_change)
        untime = metrics.time_queries()
        task = asyncio.create_task(_sample_lag(metrics, settings.loop_lag_interval_s), name="ops-loop-lag")

        async def stop() -> None:
            unsubscribe()
            untime()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    return [start]


async def _sample_lag(metrics: NodeMetrics, interval: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        metrics.loop_lag.set(max(0.0, loop.time() - started - interval))
