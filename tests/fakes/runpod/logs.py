"""`GET /v2/pods/{id}/logs` and `GET /v2/serverless/{id}/workers/{workerId}/logs`: server-sent events that stay
open after the backfill, with keep-alive comments and `Last-Event-ID` resume, as RunPod streams them (clients
must bound their reads)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tests.fakes.runpod.cloud import Cloud, Logged
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router
from tests.fakes.runpod.workers import Fleet

__all__ = ["LogRoutes", "Stream"]


class Stream:
    """A route's answer that is sent as `text/event-stream`, chunk by chunk, until it ends."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks = chunks


class LogRoutes:
    def __init__(self, cloud: Cloud, fleet: Fleet, stopping: threading.Event, *, keepalive_s: float,
                 max_s: float) -> None:
        self.cloud, self.fleet, self.stopping = cloud, fleet, stopping
        self.keepalive_s, self.max_s = keepalive_s, max_s

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/pods/([^/]+)/logs", self.pod_logs)
        router.add("GET", r"/v2/serverless/([^/]+)/workers/([^/]+)/logs", self.worker_logs)

    def pod_logs(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            pod = self.cloud.visible(request.groups[0])
        return self._stream(request, pod, lambda: self.cloud.advanced(pod.id))

    def worker_logs(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            endpoint = self.fleet.get(request.groups[0])
            worker = endpoint.worker(request.groups[1])
        return self._stream(request, worker, lambda: self.fleet.advanced(endpoint))

    def _stream(self, request: Request, owner: Logged, advance: Callable[[], object]) -> tuple[int, Any]:
        """The backfill, then live lines and keep-alive comments, open until the fake stops or `max_s`."""
        q = {k: v[-1] for k, v in request.query.items()}
        source = q.get("source")
        if source not in (None, "container", "system"):
            raise Problem(422, "Request validation failed.", ["source: value must be one of 'container', 'system'"])
        tail = q.get("tail", "100")
        if not tail.isdigit() or int(tail) > 5000:
            raise Problem(422, "Request validation failed.", ["tail: expected integer in 0..5000"])
        last_event_id = request.headers.get("Last-Event-ID")
        with self.cloud.lock:
            lines = [e for e in owner.logs if source in (None, e["source"])]
            if last_event_id:
                cursor = _event_seq(last_event_id)
                backlog = [e for e in lines if e["seq"] > cursor]
            elif "since" in q:
                backlog = [e for e in lines if e["ts"] >= q["since"]]
            else:
                backlog = lines[-int(tail):] if int(tail) else []
            sent = max((e["seq"] for e in lines), default=0)
        return 200, Stream(self._sse(owner, advance, source, backlog, sent))

    def _sse(self, owner: Logged, advance: Callable[[], object], source: str | None, backlog: list[dict[str, Any]],
             sent: int) -> Iterator[str]:
        yield from (_sse_event(e) for e in backlog)
        deadline = time.monotonic() + self.max_s
        while not self.stopping.is_set() and time.monotonic() < deadline:
            with self.cloud.log_added:
                self.cloud.log_added.wait(timeout=self.keepalive_s)
                advance()  # lines appear as the phases pass, watched or not
                fresh = [e for e in owner.logs if e["seq"] > sent and source in (None, e["source"])]
                sent = max([sent, *(e["seq"] for e in fresh)])
            yield "".join(_sse_event(e) for e in fresh) if fresh else ": keep-alive\n\n"


def _event_seq(event_id: str) -> int:
    tail = event_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _sse_event(e: Mapping[str, Any]) -> str:
    data = json.dumps({"ts": e["ts"], "source": e["source"], "line": e["line"]})
    return f"id: {e['ts']}/{e['seq']:012d}\ndata: {data}\n\n"
