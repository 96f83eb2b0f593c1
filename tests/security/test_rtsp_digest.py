"""RTSP Digest on our re-serve (issue 14, item 7): a captured Authorization header is bound to the URI it
was made for and to its nonce count, so it opens neither another camera nor the same one again; anything
malformed is a 401, never an exception; the user lookup before any check only reads."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.media.test_restream import RawClient, Rig, rig
from tests.support.clips import encode_clip
from tests.support.waits import wait_until
from xueliang.audit.models import AuditEvent
from xueliang.media.frames import AccessUnit
from xueliang.media.plane.rtsp import PlaneRtspAccess
from xueliang.media.rtsp.auth import ClientAuth, DigestRealm, ServerAuth, digest_response

PASSWORD = "secret"


def answered(realm: DigestRealm) -> ClientAuth:
    auth = ClientAuth("parent", PASSWORD)
    assert auth.accept([realm.challenge()])
    return auth


def check(realm: DigestRealm, header: str | None, method: str, uri: str) -> str:
    creds = realm.credentials(header)
    assert creds is not None
    return realm.verify(method, creds, PASSWORD, uri)


def test_a_response_is_bound_to_its_uri() -> None:
    realm = DigestRealm()
    auth = answered(realm)
    cam1, cam2 = "rtsp://h:8555/live/1", "rtsp://h:8555/live/2"
    header = auth.header("DESCRIBE", cam1)
    assert check(realm, header, "DESCRIBE", cam2) == "denied"  # the header made for camera 1
    assert check(realm, header, "DESCRIBE", cam1) == "ok"


def test_nonce_counts_must_grow() -> None:
    realm = DigestRealm()
    auth = answered(realm)
    uri = "rtsp://h:8555/live/1"
    first = auth.header("DESCRIBE", uri)
    second = auth.header("DESCRIBE", uri)
    assert check(realm, first, "DESCRIBE", uri) == "ok"
    assert check(realm, first, "DESCRIBE", uri) == "denied"  # replayed
    assert check(realm, second, "DESCRIBE", uri) == "ok"
    assert check(realm, first, "DESCRIBE", uri) == "denied"  # an older count after a newer one
    assert check(realm, auth.header("SETUP", uri + "/trackID=0"), "SETUP", uri + "/trackID=0") == "ok"


def test_without_qop_a_nonce_answers_once_per_request() -> None:
    """RFC 2069 clients (live555, so VLC) send no nc: a nonce then opens one method on one URI once."""
    realm = DigestRealm()
    nonce = realm.credentials(realm.challenge())
    assert nonce is not None
    uri = "rtsp://h:8555/live/1"
    response = digest_response(
        algorithm="MD5",
        username="parent",
        realm="Xueliang",
        password="secret",
        method="DESCRIBE",
        uri=uri,
        nonce=nonce.params["nonce"],
    )
    header = (
        f'Digest username="parent", realm="Xueliang", nonce="{nonce.params["nonce"]}", uri="{uri}", '
        f'response="{response}"'
    )
    assert check(realm, header, "DESCRIBE", uri) == "ok"
    assert check(realm, header, "DESCRIBE", uri) == "denied"


def test_forgotten_counts_make_old_nonces_stale_not_replayable() -> None:
    realm = DigestRealm(max_nonces=2)
    uri = "rtsp://h:8555/live/1"
    clients = [answered(realm) for _ in range(3)]
    headers = [c.header("DESCRIBE", uri) for c in clients]
    for header in headers:
        assert check(realm, header, "DESCRIBE", uri) == "ok"
    assert check(realm, headers[0], "DESCRIBE", uri) == "stale"  # its count was dropped: a new nonce
    assert check(realm, headers[2], "DESCRIBE", uri) == "denied"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda h: h.replace('response="', 'response="\u00e9'), id="non-ascii-response"),
        pytest.param(lambda h: h.replace('nonce="', 'nonce="\u4e2d'), id="non-ascii-nonce"),
        pytest.param(lambda h: h.replace('nonce="', 'nonce="x\u00e9' * 40), id="long-non-ascii-nonce"),
        pytest.param(lambda h: h.replace("uri=", "url="), id="no-uri"),
        pytest.param(lambda h: h.replace("response=", "answer="), id="no-response"),
        pytest.param(lambda h: h.replace("nc=", "count="), id="qop-without-nc"),
        pytest.param(lambda h: h.replace("nc=0", "nc=z"), id="bad-nc"),
        pytest.param(lambda h: h.replace("username=", "user="), id="no-username"),
        pytest.param(lambda h: h.replace('username="parent"', 'username="par\x00ent"'), id="nul-username"),
    ],
)
def test_malformed_credentials_are_denied_not_raised(mangle: object) -> None:
    realm = DigestRealm()
    uri = "rtsp://h:8555/live/1"
    header = answered(realm).header("DESCRIBE", uri)
    assert header is not None
    bad = mangle(header)  # type: ignore[operator]
    creds = realm.credentials(bad)
    assert creds is None or realm.verify("DESCRIBE", creds, "secret", uri) == "denied"
    server = ServerAuth("parent", "secret")
    assert server.check("DESCRIBE", bad, uri) == "denied"


@pytest.fixture(scope="module")
def clip() -> dict[int, list[AccessUnit]]:
    return {i: encode_clip(frames=25, gop=25, camera_index=i) for i in (1, 2)}


async def challenged(r: Rig, client: RawClient, url: str) -> ClientAuth:
    challenge = await client.request("DESCRIBE", url)
    auth = ClientAuth("parent", "secret")
    assert challenge.status == 401 and auth.accept(challenge.headers.get_all("WWW-Authenticate"))
    return auth


async def test_restream_refuses_a_captured_header_on_other_cameras_and_again(
    clip: dict[int, list[AccessUnit]],
) -> None:
    async with rig(clip) as r:
        await wait_until(lambda: all(r.engine.channel(c).init for c in (1, 2)), what="pictures")
        captured = await RawClient.connect(r.server.port)
        try:
            auth = await challenged(r, captured, r.url(1))
            header = auth.header("DESCRIBE", r.url(1)) or ""
            assert (await captured.request("DESCRIBE", r.url(1), Authorization=header)).status == 200
        finally:
            captured.close()
        for url in (r.url(2), r.url(1)):  # the same header on a fresh connection: another camera, again
            attacker = await RawClient.connect(r.server.port)
            try:
                refused = await attacker.request("DESCRIBE", url, Authorization=header)
                assert refused.status == 401, url
                assert "Digest" in (refused.headers.get("WWW-Authenticate") or "")
            finally:
                attacker.close()
        odd = await RawClient.connect(r.server.port)  # malformed credentials: 401 on a live connection
        try:
            fresh = await challenged(r, odd, r.url(1))
            good = fresh.header("DESCRIBE", r.url(1)) or ""
            for bad in (good.replace('response="', 'response="\u00e9'), good.replace("uri=", "url=")):
                raw = f"DESCRIBE {r.url(1)} RTSP/1.0\r\nCSeq: 9\r\nAuthorization: {bad}\r\n\r\n".encode()
                odd.writer.write(raw)
                assert (await odd.response()).status == 401
            assert (await odd.request("DESCRIBE", r.url(1), Authorization=good)).status == 200
        finally:
            odd.close()


async def test_digest_user_lookup_does_not_take_the_writer_turn(app: FastAPI) -> None:
    """Anyone may make the server look a username up: that read must answer while another transaction
    holds SQLite's writer turn (it used to queue behind it)."""
    ctx = app.state.ctx
    access = PlaneRtspAccess(SimpleNamespace(ctx=ctx, secret=b"k" * 32))  # type: ignore[arg-type]
    async with ctx.db.session() as writer:
        await writer.execute(select(AuditEvent.id).limit(1))  # begins a write transaction: holds the turn
        async with asyncio.timeout(10):
            found = await access.digest_user("op-qingxi")
            assert found is not None and len(found[1]) == 24
            assert await access.digest_user("nobody-here") is None
