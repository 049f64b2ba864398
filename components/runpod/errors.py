"""One error family for every RunPod call: RFC 9457 problem+json mapped to a type per HTTP status."""

from __future__ import annotations

__all__ = ["BY_STATUS", "TRANSIENT", "BadRequest", "Conflict", "Forbidden", "InsecureApiUrl", "InsufficientBalance",
           "InvalidApiKey", "InvalidRequest", "MissingApiKey", "NotFound", "RateLimited", "RunPodError",
           "ServerError", "TransportError", "Unauthorized"]


class RunPodError(Exception):
    """A RunPod call failed; `detail` is RunPod's own explanation (problem+json `detail`)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "",
                 errors: tuple[str, ...] = (), retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.retry_after_s = retry_after_s


class MissingApiKey(RunPodError):
    """No RunPod API key was configured."""


class InvalidApiKey(RunPodError):
    """The configured key cannot be a RunPod key (whitespace or a non-printable character): refused before
    any request, because HTTP libraries quote a bad header value, key included, in their errors."""


class InsecureApiUrl(RunPodError):
    """The API URL would send the key in clear (plain http to a host that is not this machine)."""


class InvalidRequest(RunPodError):
    """422: the body breaks the published contract; never retried."""


class BadRequest(RunPodError):
    """400: the body matches the contract but RunPod refused it (a cross-field rule, usually)."""


class InsufficientBalance(RunPodError):
    """402: the account has no credit left; no candidate will succeed."""


class Unauthorized(RunPodError):
    """401: the key is missing, malformed, expired or invalid."""


class Forbidden(RunPodError):
    """403: the key is valid but may not do this."""


class NotFound(RunPodError):
    """404: no such resource for this account."""


class Conflict(RunPodError):
    """409: the action is not valid in the resource's current status."""


class RateLimited(RunPodError):
    """429 that outlasted the retries (or asked for a wait longer than we sleep through)."""


class ServerError(RunPodError):
    """5xx, including a proxy's HTML 502, after the retries allowed for this call."""


class TransportError(RunPodError):
    """No HTTP answer: connection refused or dropped, or a timeout. A create may still have happened."""


BY_STATUS: dict[int, type[RunPodError]] = {
    400: BadRequest, 401: Unauthorized, 402: InsufficientBalance, 403: Forbidden, 404: NotFound,
    409: Conflict, 422: InvalidRequest, 429: RateLimited,
}

# Failures that say nothing about the request itself: the same call may well succeed a moment later.
TRANSIENT: tuple[type[RunPodError], ...] = (RateLimited, ServerError, TransportError)
