"""What can go wrong reading an image from its registry, one type per cause so callers can tell a private
image (refused) from a missing one, a rate limit from an outage, and a bad image from all of them."""

from __future__ import annotations

__all__ = ["BY_STATUS", "BadImage", "Denied", "NotFound", "RateLimited", "RegistryError", "Unauthorized",
           "Unavailable"]


class RegistryError(RuntimeError):
    """Reading from a registry failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class Unauthorized(RegistryError):
    """401: the registry wants (other) credentials; anonymous reads of a private image end here."""


class Denied(RegistryError):
    """403: the credentials (or anonymity) are known and not allowed to read this repository."""


class NotFound(RegistryError):
    """404: no such repository, tag, digest or blob (some registries also hide private images this way)."""


class RateLimited(RegistryError):
    """429: too many requests (Docker Hub's pull limit); `retry_after_s` when the registry said."""


class Unavailable(RegistryError):
    """5xx, a dropped connection or a timeout: the registry did not answer usefully."""


class BadImage(RegistryError):
    """The registry answered, but what it holds is not a readable linux/amd64 image config."""


BY_STATUS: dict[int, type[RegistryError]] = {401: Unauthorized, 403: Denied, 404: NotFound, 429: RateLimited}
