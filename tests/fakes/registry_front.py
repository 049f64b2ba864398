"""A fault-injecting front for the tests' real registry: a loopback reverse proxy that forwards reads (GET, HEAD)
to it unchanged, headers and auth challenges included, unless a fault fits the request first: a status with a
registry error body (429 `TOOMANYREQUESTS` with Retry-After, as Docker Hub's pull limit answers, or a 5xx), or
a tampered 200 body (one byte changed, so the content no longer matches its digest). Requests are recorded.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import serving

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
_CODES = {429: "TOOMANYREQUESTS", 500: "UNKNOWN", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "UNAVAILABLE"}


@dataclass
class FrontFault:
    path: str  # regex, full match
    status: int | None = 429  # None: forward, but tamper with the body
    times: int = 1
    retry_after: int | None = None


@dataclass
class RegistryFront:
    upstream: str  # host:port of the real registry
    faults: list[FrontFault] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    host: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, path: str, status: int | None = 429, times: int = 1, retry_after: int | None = None) -> None:
        self.faults.append(FrontFault(path, status, times, retry_after))

    def take_fault(self, path: str, tamper: bool) -> FrontFault | None:
        """The first fault that fits (a status fault, or with `tamper` a tampering one), counted down."""
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.status is None) is tamper and re.fullmatch(fault.path, path):
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    front: RegistryFront

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        fault = self.front.take_fault(path, tamper=False)
        if fault is not None and fault.status is not None:
            body = json.dumps({"errors": [{"code": _CODES.get(fault.status, "UNKNOWN"),
                                           "message": "injected by the test front"}]}).encode()
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._send(fault.status, {"Content-Type": "application/json", **extra}, body)
            return
        status, headers, body = self._forward()
        if status == 200 and body and self.front.take_fault(path, tamper=True):
            body = bytes([body[0] ^ 0x01]) + body[1:]
        self._send(status, headers, body)

    do_HEAD = do_GET

    def _forward(self) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.front.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            return answer.status, {k: v for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP}, body
        finally:
            connection.close()

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.front.requests.append((self.command, self.path.split("?")[0], status))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def registry_front(upstream: str) -> Iterator[RegistryFront]:
    """A `RegistryFront` for `upstream` (host:port) on 127.0.0.1 for the duration."""
    front = RegistryFront(upstream)
    with serving(type("Handler", (_Handler,), {"front": front})) as front.host:
        yield front
