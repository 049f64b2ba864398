"""The retry rule every HTTP client here shares: urllib3 `Retry` that honours a short `Retry-After` and gives
up, instead of sleeping, on a long one (an hour or day window), so the caller reports the wait rather than a
command that hangs for an hour."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

__all__ = ["MAX_RETRY_AFTER_S", "BoundedRetry", "retry_after_seconds"]

MAX_RETRY_AFTER_S = 60.0


class BoundedRetry(Retry):
    """urllib3 Retry that gives up when Retry-After is longer than `MAX_RETRY_AFTER_S`."""

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: ConnectionPool | None = None, _stacktrace: TracebackType | None = None) -> Self:
        wait = retry_after_seconds(response.headers.get("Retry-After")) if response is not None else None
        if wait is not None and wait > MAX_RETRY_AFTER_S and _pool is not None:
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {wait:g} s is too long to wait"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds; None when absent or not a number (an HTTP date is not waited for)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
