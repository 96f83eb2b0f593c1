"""Security headers on every HTTP response (issue 14, item 10): a Content Security Policy with no
inline script (the pages' boot data is a `<script type="application/json">` block read by
/static/js/boot.js), no framing by other sites, no MIME sniffing, and no Referer (which could carry a
stream token) to other origins. A header the route set itself is kept."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# blob: for Media Source Extensions (the players' <video> sources); 'self' covers ws:/wss: of this host.
# Inline styles stay allowed: they cannot run code, and some pages set style attributes.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP level 2
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds CSP and the headers above to every HTTP response; paths under `csp_exempt` (the API's
    interactive docs, whose page loads Swagger UI with an inline script) get all but the CSP."""

    def __init__(self, app: ASGIApp, *, csp: str = CSP, csp_exempt: Sequence[str] = ()) -> None:
        self.app = app
        self.csp = csp.encode()
        self.csp_exempt = tuple(csp_exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = list(HEADERS)
        if not (self.csp_exempt and path.startswith(self.csp_exempt)):
            extra.append((b"content-security-policy", self.csp))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
