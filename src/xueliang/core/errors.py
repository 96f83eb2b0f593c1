"""Domain errors with stable codes; the API turns them into JSON `{code, message}` answers."""

from __future__ import annotations


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # more fields of the JSON answer, e.g. a domain catalogue's `key` and `params` (grid/errors.py)
        self.extra: dict[str, object] = {}
        if code is not None:
            self.code = code


class NotFound(AppError):
    """Also answered for objects outside the caller's scope, so scope cannot be probed."""

    status = 404
    code = "not_found"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"


class ValidationFailed(AppError):
    status = 422
    code = "invalid"
