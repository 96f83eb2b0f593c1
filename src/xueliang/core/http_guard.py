"""The HTTP guards every route gets without code of its own (issue 14, items 9 and 10), outermost
first: security headers (so refusals carry them too), body limits (413 before a large body is read),
and the refusal of NaN and Infinity in JSON bodies (422). `create_app` installs them once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from xueliang.core.body_limit import BodyLimit
from xueliang.core.headers import SecurityHeaders
from xueliang.core.json_guard import FiniteJson


def install(
    app: FastAPI,
    *,
    max_body_bytes: int,
    max_body_bytes_by_prefix: Mapping[str, int],
    csp_exempt: Sequence[str] = (),
) -> None:
    # add_middleware puts the last one added outermost
    app.add_middleware(FiniteJson)
    app.add_middleware(BodyLimit, default=max_body_bytes, by_prefix=dict(max_body_bytes_by_prefix))
    app.add_middleware(SecurityHeaders, csp_exempt=tuple(csp_exempt))
