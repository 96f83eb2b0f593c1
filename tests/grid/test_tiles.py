"""The base-map routes: the offline file drawn from the demo county's own data on first use (no
network), served tile by tile with the XYZ→TMS flip, to grid staff and workers only; 404 (the JSON
error body) for a tile the file lacks; the tile-source settings (Tianditu, an XYZ URL in GCJ-02)."""

from __future__ import annotations

import io

from fastapi import FastAPI
from PIL import Image
from tests.support.alarms import Login, ctx_of

from xueliang.grid import basemap
from xueliang.grid.config import GridSettings
from xueliang.grid.tiles import OfflineTiles, layers, tile_hosts

API = "/api/v1/grid"
USERS = ["admin", "auditor", "op-qingxi", "gw-01", "res-v01"]
MAY = {"admin", "op-qingxi", "gw-01"}


async def test_offline_tiles_by_role(gapp: FastAPI, glogin: Login) -> None:
    offline = ctx_of(gapp).services.require(OfflineTiles)
    assert not offline.path.exists()  # a fresh node: drawn on the first request, then kept
    admin = await glogin("admin")
    config = (await admin.get(f"{API}/basemap")).json()
    assert config["source"] == "offline" and config["crs"] == "wgs84" and offline.path.exists()
    layer = config["layers"][0]
    assert layer["url"] == "/api/v1/grid/tiles/{z}/{x}/{y}.png" and layer["max_native_zoom"] == 15
    west, south, east, north = layer["bounds"]
    lon, lat = (west + east) / 2, (south + north) / 2
    px, py = basemap.world_px(lon, lat, 13)
    here = f"{API}/tiles/13/{int(px // 256)}/{int(py // 256)}.png"
    for user in USERS:
        c = await glogin(user)
        r = await c.get(here)
        if user in MAY:
            assert r.status_code == 200 and r.headers["content-type"] == "image/png", user
            assert Image.open(io.BytesIO(r.content)).size == (256, 256)
            assert (await c.get(f"{API}/basemap")).status_code == 200
        else:
            assert r.status_code == 403 and r.json()["code"] == "forbidden", user
            assert (await c.get(f"{API}/basemap")).status_code == 403
    far = await admin.get(f"{API}/tiles/13/0/0.png")
    assert far.status_code == 404 and far.json()["code"] == "not_found"
    assert (await admin.get(f"{API}/tiles/99/0/0.png")).status_code == 422
    assert (await admin.get(f"{API}/tiles/3/-1/0.png")).status_code == 422


def test_tile_sources() -> None:
    tdt = layers(GridSettings(basemap="tianditu", tianditu_key="k123"))
    assert tdt["crs"] == "wgs84" and [x["url"].split("?")[0] for x in tdt["layers"]] == [
        "https://t{s}.tianditu.gov.cn/vec_w/wmts",
        "https://t{s}.tianditu.gov.cn/cva_w/wmts",
    ]
    assert all(
        "tk=k123" in x["url"] and "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in x["url"] for x in tdt["layers"]
    )
    assert layers(GridSettings(basemap="tianditu"))["layers"] == []  # no key: no layer, not a broken one
    amap = layers(
        GridSettings(
            basemap="xyz",
            basemap_url="https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
            basemap_subdomains="1234",
            basemap_crs="gcj02",
        )
    )
    assert amap["crs"] == "gcj02" and amap["layers"][0]["subdomains"] == "1234"


def test_csp_hosts_of_a_source() -> None:
    assert tile_hosts(GridSettings(basemap="tianditu", tianditu_key="k")) == ["https://*.tianditu.gov.cn"]
    amap = GridSettings(
        basemap="xyz", basemap_url="https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}"
    )
    assert tile_hosts(amap) == ["https://*.is.autonavi.com"]
    assert tile_hosts(GridSettings()) == []  # offline: our own origin


async def test_map_pages_allow_an_online_sources_hosts(gapp: FastAPI, glogin: Login) -> None:
    """The console's camera page and the grid console draw the base layer, so their Content Security
    Policy lets its tiles in (Baidu's hosts here); other pages keep the strict policy."""
    settings = ctx_of(gapp).services.require(GridSettings)
    op = await glogin("op-qingxi")
    assert "bdimg.com" not in (await op.get("/")).headers["content-security-policy"]  # offline: own origin
    settings.basemap = "baidu"
    try:
        for page in ("/", "/grid"):
            csp = (await op.get(page)).headers["content-security-policy"]
            assert "img-src 'self' data: blob: https://*.bdimg.com" in csp, page
        assert "bdimg.com" not in (await op.get("/alarms")).headers["content-security-policy"]
    finally:
        settings.basemap = "offline"
