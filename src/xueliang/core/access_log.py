"""Stream tokens out of the access log (issue 14, item 10): live, playback and export URLs carry
`?token=` (a bearer credential for up to 5 minutes), and uvicorn's access log prints every request's
path with its query string. The filter rewrites the token's value before the line is written."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"((?:^|[?&;])(?:token|access_token)=)[^&;#\s\"]*", re.IGNORECASE)
ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """For uvicorn's access logger: its record's args are (client, method, path?query, version,
    status); every string argument is redacted, so other formats are covered too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_name: str = ACCESS_LOGGER) -> RedactTokens:
    """Adds the filter to the access logger (once); returns it."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, RedactTokens):
            return existing
    found = RedactTokens()
    logger.addFilter(found)
    return found
