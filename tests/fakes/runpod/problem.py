"""RunPod's error answer: RFC 9457 problem+json (`ErrorResponse`: title, status, detail, errors)."""

from __future__ import annotations

from collections.abc import Sequence

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
          502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class Problem(Exception):
    """Raised by a route to answer an error; the handler renders it as problem+json."""

    def __init__(self, status: int, detail: str, errors: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, list(errors)

    def document(self) -> dict[str, object]:
        doc: dict[str, object] = {"title": TITLES.get(self.status, "Error"), "status": self.status,
                                  "detail": self.detail}
        if self.errors:
            doc["errors"] = self.errors
        return doc
