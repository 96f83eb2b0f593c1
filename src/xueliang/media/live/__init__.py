"""Live viewing routes: fMP4 over WebSocket for Media Source Extensions (`ws`), and LL-HLS for the rest
(`hls`), mounted together by the `LiveGateway` (`gateway`).

Every request carries a stream token (`?token=`) bound to user, camera and action, checked on every
HTTP request and at WebSocket connect; rights are re-asked through `recheck(claims)` at connect and at
least every `recheck_every` seconds (30 s), so revoked rights end a stream within that time.

Each live session (a WebSocket connection; for HLS a user watching a camera from one address until
`hls_session_idle` seconds without a request) is reported at start and end, with bytes sent."""

from xueliang.media.live.base import LiveConfig, LiveSession
from xueliang.media.live.gateway import LiveGateway, live_router

__all__ = ["LiveConfig", "LiveGateway", "LiveSession", "live_router"]
