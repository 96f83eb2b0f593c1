"""player.js against a real fMP4 H.264 stream: the live WebSocket is mocked in the page (Playwright's
WebSocket routing) and fed the documented protocol: a text header, the init segment, then one moof+mdat
fragment per message; a second header switches to a new init segment (here, a new resolution)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, WebSocketRoute, expect

from tests.support.browser import NewPage, api_json, login_form
from tests.support.fmp4_clip import Clip, make_clip

pytestmark = pytest.mark.browser


def send_stream(ws: WebSocketRoute, clip: Clip) -> None:
    ws.send(json.dumps({"type": "init", "mime": clip.mime}))
    ws.send(clip.init)
    for fragment in clip.fragments:
        ws.send(fragment)


def video_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("""() => {
        const v = document.querySelector('#m-player video');
        return v && {w: v.videoWidth, h: v.videoHeight, t: v.currentTime, src: v.src, paused: v.paused,
                     buffered: v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0};
    }""")
    return state


def test_player_plays_fmp4_over_websocket_and_follows_a_new_init(
    new_page: NewPage, live_server: Any, artifacts: Path
) -> None:
    # The phone's service worker must not answer for the page: Playwright's routes below (the stream URLs
    # and the fake live socket) do not see requests a service worker controls, and whether it controls
    # the page yet is a race (it failed once in CI after the worker's cache list grew).
    page = new_page(390, 844, service_workers="block")
    login_form(page, live_server.url, "res-v01", terminal="mobile", next_path="/m")
    cameras = api_json(page, live_server.url, "/cameras")
    first, second = cameras[0], cameras[1]

    # Without stream URLs (no media engine yet) the tile says so plainly.
    page.locator(f'.m-cam[data-camera-id="{first["id"]}"]').click()
    expect(page.locator("#m-player .player-msg")).to_contain_text("暂无实时视频")
    page.locator("#m-back").click()

    # With a WebSocket URL the player connects (the URL is made absolute: ws://host/...).
    def with_streams(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["streams"] = {"ws": f"/api/v1/live/{body['camera']['id']}/ws?token=test-token"}
        route.fulfill(response=response, json=body)

    page.route("**/api/v1/cameras/*/open", with_streams)
    sockets: list[WebSocketRoute] = []
    urls: list[str] = []
    clip = make_clip(320, 240)

    def on_socket(ws: WebSocketRoute) -> None:
        urls.append(ws.url)
        sockets.append(ws)
        send_stream(ws, clip)

    page.route_web_socket("**/api/v1/live/**", on_socket)
    page.locator(f'.m-cam[data-camera-id="{second["id"]}"]').click()
    expect(page.locator("#m-player .player-live")).to_be_visible()
    page.wait_for_function("""() => {
        const v = document.querySelector('#m-player video');
        return v && v.videoWidth === 320 && v.currentTime > 0;
    }""")
    assert urls == [
        f"{live_server.url.replace('http://', 'ws://')}/api/v1/live/{second['id']}/ws?token=test-token"
    ]
    state = video_state(page)
    # Everything arrived at once (2 s of video): the player jumped to within a second of the live edge.
    assert state["buffered"] - state["t"] <= 1.0, state
    shot_path = artifacts / "browser-player-live.png"
    page.screenshot(path=str(shot_path))

    # A new header announces a new init segment: the SourceBuffer is re-created for the new picture size.
    old_src = state["src"]
    send_stream(sockets[0], make_clip(256, 144))
    page.wait_for_function("""() => {
        const v = document.querySelector('#m-player video');
        return v && v.videoWidth === 256 && v.currentTime > 0;
    }""")
    assert video_state(page)["src"] != old_src

    # The camera goes offline and comes back: the viewer is told, then the message goes away.
    ws = sockets[0]
    player_msg = page.locator("#m-player .player-msg")
    ws.send(json.dumps({"type": "status", "online": False, "reason": "no data for 10 s"}))
    expect(player_msg).to_contain_text("摄像头已离线")
    ws.send(json.dumps({"type": "status", "online": True}))
    expect(player_msg).to_be_hidden()

    # The server says the token is expiring: the player asks the API for a fresh one and sends it.
    received: list[str] = []
    ws.on_message(lambda message: received.append(str(message)))
    ws.send(json.dumps({"type": "token_expiring", "expires": 0}))
    expect(page.locator("#m-player .player")).to_have_attribute("data-token-refreshes", "1")
    assert [json.loads(m) for m in received] == [{"type": "token", "token": "test-token"}]

    # Rights revoked: the server closes with 4403 and the viewer is told why.
    ws.close(code=4403, reason="access revoked")
    expect(player_msg).to_contain_text("您已无权查看此摄像头")

    # Closing the view closes the player.
    page.locator("#m-back").click()
    expect(page.locator("#m-player video")).to_have_count(0)
