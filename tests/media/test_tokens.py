"""Stream tokens: bound to user, camera and action, short-lived, and impossible to alter."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xueliang.media import tokens
from xueliang.media.tokens import TokenError, TokenExpired, TokenScopeError, issue, verify

SECRET = b"k" * 32
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_a_fresh_token_verifies_with_its_claims() -> None:
    token = issue(SECRET, 42, 7, "view_live", 120, NOW)
    claims = verify(SECRET, token, 7, "view_live", NOW + timedelta(seconds=119))
    assert (claims.user_id, claims.camera_id, claims.action) == (42, 7, "view_live")
    assert claims.expires == int(NOW.timestamp()) + 120
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert issue(SECRET, 42, 7, "view_live", 120, NOW) != token  # nonce: sessions can be told apart


def test_expired_token_is_refused() -> None:
    token = issue(SECRET, 42, 7, "view_live", 60, NOW)
    with pytest.raises(TokenExpired):
        verify(SECRET, token, 7, "view_live", NOW + timedelta(seconds=60))


def test_camera_a_token_never_opens_camera_b() -> None:
    token = issue(SECRET, 42, 7, "view_live", 60, NOW)
    with pytest.raises(TokenScopeError, match="another camera"):
        verify(SECRET, token, 8, "view_live", NOW)


def test_wrong_action_is_refused() -> None:
    token = issue(SECRET, 42, 7, "view_live", 60, NOW)
    with pytest.raises(TokenScopeError, match="another action"):
        verify(SECRET, token, 7, "export_video", NOW)


def test_tampered_claims_or_signature_are_refused() -> None:
    token = issue(SECRET, 42, 7, "view_live", 60, NOW)
    head, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    claims[2] = 8  # re-point it to camera 8
    forged = (
        base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )
    with pytest.raises(TokenError, match="signature"):
        verify(SECRET, f"{forged}.{mac}", 8, "view_live", NOW)
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    with pytest.raises(TokenError, match="signature"):
        verify(SECRET, f"{head}.{flipped}", 7, "view_live", NOW)
    with pytest.raises(TokenError):
        verify(b"other-secret-0123456789", token, 7, "view_live", NOW)


def test_lifetime_and_secret_limits() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        issue(SECRET, 1, 1, "view_live", tokens.MAX_TTL + 1, NOW)
    with pytest.raises(ValueError, match="lifetime"):
        issue(SECRET, 1, 1, "view_live", 0, NOW)
    with pytest.raises(ValueError, match="secret"):
        issue(b"short", 1, 1, "view_live", 60, NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_strings_are_refused_cleanly(text: str) -> None:
    with pytest.raises(TokenError):
        verify(SECRET, text, 7, "view_live", NOW)
