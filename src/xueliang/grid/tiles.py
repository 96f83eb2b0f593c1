"""The map's base layer: which tile source the grid pages use (GET /grid/basemap) and the offline
MBTiles file the node serves itself (GET /grid/tiles/{z}/{x}/{y}.png), for logged-in staff and grid
workers only (the tiles show the county's households).

Sources (GridSettings.basemap): "offline" (default; the file at `mbtiles_path`, drawn from the
county's own data by grid/basemap.py the first time it is asked for when missing), "tianditu" (vec_w +
cva_w with the county's key), "xyz" (any XYZ/WMTS template, in WGS 84, GCJ-02 or BD-09 on the
web-Mercator grid, or on Baidu's own plane and tile numbering, BD09MC: the page's Leaflet CRS lines our
WGS 84 data up with it, static/js/grid/coords.js), "baidu" (Baidu's tiles, BD09MC), "none"."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from xueliang.accounts.deps import Ctx, CurrentCaller, ReadSession
from xueliang.accounts.policy import Permission, allows
from xueliang.core.context import AppContext
from xueliang.core.errors import Forbidden, NotFound
from xueliang.grid.config import GridSettings
from xueliang.grid.errors import refused
from xueliang.grid.mbtiles import MBTiles

log = logging.getLogger(__name__)
router = APIRouter()

TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
OFFLINE_URL = "/api/v1/grid/tiles/{z}/{x}/{y}.png"
# Baidu's street map, {x}/{y} in its own numbering (y counted north from the equator; grid/bd09mc.py)
BAIDU = "https://maponline{s}.bdimg.com/tile/?qt=vtile&x={x}&y={y}&z={z}&styles=pl&scaler=1"


class OfflineTiles:
    """The node's MBTiles file: opened on first use; drawn first (once, in a thread) when missing and
    generation is on. A file replaced on disk is picked up by `reopen` (the demo's regeneration)."""

    def __init__(self, path: Path, generate: bool) -> None:
        self.path = path
        self.generate = generate
        self._tiles: MBTiles | None = None
        self._lock = asyncio.Lock()

    async def get(self, ctx: AppContext) -> MBTiles | None:
        if self._tiles is not None:
            return self._tiles
        async with self._lock:
            if self._tiles is None:
                if not self.path.exists() and self.generate:
                    await self._draw(ctx)
                if self.path.exists():
                    self._tiles = await asyncio.to_thread(MBTiles, self.path)
        return self._tiles

    async def _draw(self, ctx: AppContext) -> None:
        from xueliang.grid import basemap  # Pillow only where a base layer is drawn

        try:
            async with ctx.db.read_session() as session:
                sketch = await basemap.county_sketch(session)
            count = await asyncio.to_thread(basemap.build, self.path, sketch)
            log.info("offline base map drawn from the county's data: %d tiles in %s", count, self.path)
        except Exception:  # no base layer is better than no map: the pages draw our boundaries anyway
            log.exception("drawing the offline base map failed; not retried until the node restarts")
            self.generate = False

    def reopen(self) -> None:
        if self._tiles is not None:
            self._tiles.close()
        self._tiles = None


def mbtiles_path(ctx: AppContext, settings: GridSettings) -> Path:
    return settings.mbtiles_path or Path(ctx.settings.data_dir) / "grid" / "basemap.mbtiles"


def install_tiles(ctx: AppContext, settings: GridSettings) -> None:
    ctx.services.add(OfflineTiles(mbtiles_path(ctx, settings), settings.basemap_generate))


async def offline_tiles(ctx: AppContext) -> MBTiles | None:
    service = ctx.services.get(OfflineTiles)
    return await service.get(ctx) if service is not None else None


def _may_see_map(caller: CurrentCaller) -> None:
    p = caller.principal
    if not (allows(p, Permission.patrol) or allows(p, Permission.manage_grid)):
        raise refused(Forbidden, "forbidden")


def layers(settings: GridSettings) -> dict[str, Any]:
    """What the pages' Leaflet map needs: the CRS to line up with and the tile layers, bottom first."""
    if settings.basemap == "tianditu" and settings.tianditu_key:
        subdomains = "01234567"
        attribution = "© 天地图 Tianditu"
        return {
            "source": "tianditu",
            "crs": "wgs84",
            "layers": [
                {
                    "url": TIANDITU.replace("{layer}", layer).replace("{key}", settings.tianditu_key),
                    "subdomains": subdomains,
                    "attribution": attribution if layer == "vec" else "",
                    "max_zoom": 18,
                    "max_native_zoom": 18,
                }
                for layer in ("vec", "cva")
            ],
        }
    if settings.basemap == "baidu":
        return {
            "source": "baidu",
            "crs": "bd09mc",
            "layers": [
                {
                    "url": settings.basemap_url or BAIDU,
                    "subdomains": settings.basemap_subdomains or "0123",
                    "attribution": settings.basemap_attribution or "© 百度地图 Baidu",
                    "max_zoom": 19,
                    "max_native_zoom": min(settings.basemap_max_zoom, 19),
                    "min_native_zoom": 3,
                }
            ],
        }
    if settings.basemap == "xyz" and settings.basemap_url:
        return {
            "source": "xyz",
            "crs": settings.basemap_crs,
            "layers": [
                {
                    "url": settings.basemap_url,
                    "subdomains": settings.basemap_subdomains,
                    "attribution": settings.basemap_attribution,
                    "max_zoom": 19,
                    "max_native_zoom": settings.basemap_max_zoom,
                }
            ],
        }
    return {"source": "none", "crs": "wgs84", "layers": []}


def tile_hosts(settings: GridSettings) -> list[str]:
    """The origins a page must be allowed to load images from for the configured source (the grid
    pages add them to their Content Security Policy's img-src); a `{s}` label becomes `*`."""
    urls = [x["url"] for x in layers(settings)["layers"]]
    hosts: set[str] = set()
    for url in urls:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("http", "https"):
            continue
        host = rest.split("/", 1)[0].split("?", 1)[0]
        labels = host.split(".")
        if "{" in labels[0]:
            labels[0] = "*"
        if any(c in ".".join(labels[1:]) for c in "{}; '\""):
            continue  # a template elsewhere in the host: not expressible as a CSP source
        hosts.add(f"{scheme}://{'.'.join(labels)}")
    return sorted(hosts)


@router.get("/basemap")
async def basemap_config(caller: CurrentCaller, ctx: Ctx, session: ReadSession) -> dict[str, Any]:
    """The base layer the grid pages draw under their data (a Tianditu source without a key, or an
    "xyz" one without a URL, falls back to none: the pages still draw our own boundaries)."""
    _may_see_map(caller)
    settings = ctx.services.require(GridSettings)
    if settings.basemap != "offline":
        return layers(settings)
    tiles = await offline_tiles(ctx)
    if tiles is None:
        return {"source": "none", "crs": "wgs84", "layers": []}
    meta = await asyncio.to_thread(tiles.metadata)
    return {
        "source": "offline",
        "crs": "wgs84",
        "layers": [
            {
                "url": OFFLINE_URL,
                "subdomains": "",
                "attribution": "",  # the page already credits the county base map
                "max_zoom": 19,
                "max_native_zoom": int(meta.get("maxzoom", "15")),
                "min_native_zoom": int(meta.get("minzoom", "0")),
                "bounds": [float(v) for v in meta["bounds"].split(",")] if "bounds" in meta else None,
            }
        ],
    }


Zoom = Annotated[int, PathParam(ge=0, le=24)]
Col = Annotated[int, PathParam(ge=0, le=2**24)]


@router.get("/tiles/{z}/{x}/{y}.png", response_class=Response)
async def tile(z: Zoom, x: Col, y: Col, caller: CurrentCaller, ctx: Ctx) -> Response:
    """One tile of the offline file (XYZ numbering; the file's TMS rows are flipped); 404 where the
    file has none (Leaflet then shows the page's background)."""
    _may_see_map(caller)
    tiles = await offline_tiles(ctx)
    data = await asyncio.to_thread(tiles.tile, z, x, y) if tiles is not None else None
    if data is None:
        raise refused(NotFound, "tile.not_found")
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})
