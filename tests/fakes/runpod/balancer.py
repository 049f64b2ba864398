"""The load balancer in front of the fake's serverless endpoints: `https://{id}.api.runpod.ai` on loopback.

Each endpoint gets its own listener on 127.0.0.1 (`url(endpoint_id)`), standing for its host name, as DNS would
route `{id}.api.runpod.ai`. A request needs the account's RunPod key as `Authorization: Bearer` (401 otherwise)
and is sent to a ready (IDLE) worker, which is RUNNING while it serves: the request goes to the `backend` (the
vLLM fake, one server standing for every worker's container) with its path, body and headers, the
Authorization header included (whether RunPod strips it is not documented), and the answer comes back with an
`X-Runpod-Worker-Id` header. With no ready worker, the request wakes one (up to `workers.max`) and is answered
400 `{"error": "no workers available"}`, as RunPod answers once its 2-minute wait for a worker runs out; an
endpoint that does not exist (any more) answers 404. Attaching the balancer gives the workers' health ping: a
worker is ready only once the backend's `/ping` answers 200.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.workers import FakeWorker, Fleet

__all__ = ["LoadBalancer", "RoutedRequest"]

NO_WORKERS = {"error": "no workers available"}
_HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


@dataclass(frozen=True)
class RoutedRequest:
    endpoint_id: str
    method: str
    path: str
    status: int
    worker_id: str | None  # the worker that served it, None when none did


class LoadBalancer:
    """The front of every endpoint; a context manager (stops its listeners)."""

    def __init__(self, cloud: Cloud, fleet: Fleet, api_key: str, backend: str) -> None:
        self.cloud, self.fleet, self.api_key = cloud, fleet, api_key
        parts = urlsplit(backend)
        self.backend = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests: list[RoutedRequest] = []
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._lock = threading.Lock()
        fleet.health_ping = self.ping_backend

    def url(self, endpoint_id: str) -> str:
        """Where `https://{endpoint_id}.api.runpod.ai` answers on loopback (a listener started on first use)."""
        with self._lock:
            server = self._servers.get(endpoint_id)
            if server is None:
                handler = type("EndpointHandler", (_Handler,), {"front": self, "endpoint_id": endpoint_id})
                server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
                server.daemon_threads = True
                threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                                 name=f"fake-lb-{endpoint_id}").start()
                self._servers[endpoint_id] = server
        return f"http://127.0.0.1:{server.server_address[1]}"

    def routed(self, endpoint_id: str) -> list[RoutedRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint_id == endpoint_id]

    def close(self) -> None:
        self.fleet.health_ping = None
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LoadBalancer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- serving --------------------------------------------------------------------------------------------

    def ping_backend(self) -> int | None:
        try:
            return self._send("GET", "/ping", None, {}, timeout_s=2.0)[0]
        except OSError:
            return None  # not listening yet: the server is still loading

    def serve(self, endpoint_id: str, method: str, path: str, body: bytes | None,
              headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, json.dumps({"error": "Unauthorized"}).encode(), None
        worker = self._claim(endpoint_id)
        if isinstance(worker, int):
            status = worker
            return status, {}, json.dumps(NO_WORKERS if status == 400 else {"error": "not found"}).encode(), None
        try:
            status, answer_headers, payload = self._send(method, path, body, headers)
        except OSError:
            status, answer_headers, payload = 502, {}, json.dumps({"error": "worker unreachable"}).encode()
        finally:
            self._release(endpoint_id, worker)
        return status, {**answer_headers, "X-Runpod-Worker-Id": worker.id}, payload, worker.id

    def _claim(self, endpoint_id: str) -> FakeWorker | int:
        """A ready worker, now RUNNING; else 404 (no such endpoint) or 400 (none ready: one is woken)."""
        with self.cloud.lock:
            endpoint = self.fleet.endpoints.get(endpoint_id)
            if endpoint is None:
                return 404
            self.fleet.advanced(endpoint)
            ready = next((w for w in endpoint.workers if w.status == "IDLE"), None)
            if ready is None:
                self.fleet.wake(endpoint)
                return 400
            ready.status = "RUNNING"
            return ready

    def _release(self, endpoint_id: str, worker: FakeWorker) -> None:
        with self.cloud.lock:
            if worker.status == "RUNNING":
                worker.status, worker.last_active = "IDLE", self.cloud.clock()

    def _send(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str],
              timeout_s: float = 60.0) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self.backend, timeout=timeout_s)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() == "content-type"}
            return response.status, kept, payload
        finally:
            connection.close()

    def record(self, entry: RoutedRequest) -> None:
        with self._lock:
            self.requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    front: LoadBalancer
    endpoint_id: str

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer_headers, payload, worker = self.front.serve(self.endpoint_id, method, self.path, body, headers)
        self.front.record(RoutedRequest(self.endpoint_id, method, self.path, status, worker))
        self.send_response(status)
        answer_headers.setdefault("Content-Type", "application/json")
        for name, value in {**answer_headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
