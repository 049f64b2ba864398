"""The HTTP side of the fake: one request per connection (HTTP/1.0 framing), faults applied, every call
recorded in the fake's `requests_log` before its answer is written (so a test that got an answer sees it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.runpod.faults import HTML_502, Fault
from tests.fakes.runpod.logs import Stream
from tests.fakes.runpod.model import RecordedRequest
from tests.fakes.runpod.problem import Problem

if TYPE_CHECKING:
    from tests.fakes.runpod.fake import FakeRunPod

__all__ = ["Handler"]

_RATE_LIMIT_HEADERS = {"RateLimit": '"minute";r=59;t=60', "RateLimit-Policy": '"minute";q=60;w=60'}


class Handler(BaseHTTPRequestHandler):
    fake: FakeRunPod  # set on the subclass each server makes
    _request: tuple[str, str, dict[str, list[str]], Any, bool, float]
    _arrival: RecordedRequest
    server_version = "fake-runpod/2.9"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests_log`
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        started = self.fake.clock()
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        authorized = self.headers.get("Authorization") == f"Bearer {self.fake.api_key}"
        self._request = (method, path, query, body, authorized, started)
        self._arrival = RecordedRequest(method, path, query, body, 0, started, authorized, started)
        self.fake.arrived(self._arrival)
        self._answer(method, path, query, body, authorized)

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any, authorized: bool) -> None:
        fault = self.fake.fault_book.take(method, path)
        if fault is not None and not fault.acts_first:
            time.sleep(fault.delay_s)
            if fault.answers:
                self._send_fault(fault, body)
                return
        try:
            if isinstance(body, str):
                raise Problem(400, "request body is not valid JSON")
            if not authorized:
                raise Problem(401, "missing bearer token" if "Authorization" not in self.headers
                              else "invalid bearer token")
            status, answer = self.fake.router.route(method, path, query, body, fault, dict(self.headers))
        except Problem as problem:
            self._send_problem(problem)
            return
        if fault is not None and fault.acts_first:  # the work is done; the answer is late, wrong, or lost
            time.sleep(fault.delay_s)
            if fault.answers:
                self._send_fault(fault, body)
                return
        if isinstance(answer, Stream):
            self._send_stream(answer.chunks)
        else:
            self._send_json(status, answer)

    def _record(self, status: int) -> None:
        method, path, query, body, authorized, started = self._request
        self.fake.record(RecordedRequest(method, path, query, body, status, self.fake.clock(), authorized, started),
                         self._arrival)

    def _send_fault(self, fault: Fault, body: Any) -> None:
        if fault.drop:  # the connection closes with no answer at all
            self._record(0)
            self.close_connection = True
            return
        assert fault.status is not None
        if fault.html:
            self._send_raw(fault.status, "text/html", HTML_502.encode(), {})
            return
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        self._send_problem(fault.problem(body), headers)

    def _send_problem(self, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(problem.document()).encode()
        self._send_raw(problem.status, "application/problem+json", payload, headers or {})

    def _send_json(self, status: int, answer: Any) -> None:
        payload = b"" if answer is None else json.dumps(answer).encode()
        self._send_raw(status, "application/json", payload, _RATE_LIMIT_HEADERS)

    def _send_raw(self, status: int, kind: str, payload: bytes, headers: Mapping[str, str]) -> None:
        self._record(status)
        try:
            self.send_response(status)
            if payload or status != 204:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout); nothing to answer

    def _send_stream(self, chunks: Iterator[str]) -> None:
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "keep-alive")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client read what it wanted and hung up
