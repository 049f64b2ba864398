"""Serverless endpoints and their workers, as the fake's cloud keeps them, and how workers move.

A worker starts THROTTLED (waiting on capacity) until a host of one of the endpoint's pools (less the excluded
types) has free GPUs at the endpoint's CUDA constraint; it then holds them, INITIALIZING for `init_s`, and is IDLE
(ready) once its server answers the load balancer's health ping (when a balancer is attached: its backend's
`/ping` must say 200; 204 or a refused connection means still loading). An image whose CUDA requirement exceeds
the host's, or the 'unhealthy' fate, makes it UNHEALTHY (with the reason in its system log; 'echo_env' also quotes
the endpoint's env there first, like a start script that prints it). A worker IDLE for `idleTimeout` seconds
scales down (unless `workers.min` keeps it), and RunPod may lower `workers.max` by itself (`lower_max`), which
ends the workers above it. Everything moves lazily on the fake clock, under the cloud's lock, whenever an endpoint
is looked at (`advanced`).
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.runpod.cloud import CUDA_GATE_LINES, Cloud
from tests.fakes.runpod.model import FakeHost, version
from tests.fakes.runpod.problem import Problem

__all__ = ["READY", "WORKER_FATES", "FakeEndpoint", "FakeWorker", "Fleet"]

READY = ("IDLE", "RUNNING")  # the statuses the load balancer routes to
HOLDS_GPUS = ("INITIALIZING", "IDLE", "RUNNING", "UNHEALTHY")
WORKER_FATES = frozenset({"ok", "unhealthy", "echo_env"})
HealthPing = Callable[[], int | None]  # the backend's /ping status, None when it refuses connections


@dataclass
class FakeWorker:
    id: str
    status: str
    since: float  # when it entered `status` (fake clock)
    fate: str = "ok"
    version: int = 1
    host: FakeHost | None = None
    gpu_count: int = 1
    last_active: float = 0.0
    started_at: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)

    def json(self, image: str, stale: bool, now: float) -> dict[str, Any]:
        host = self.host
        return {"id": self.id, "status": self.status, "isStale": stale, "version": self.version,
                "gpuCount": self.gpu_count, "image": image, "startedAt": self.started_at,
                "uptimeSeconds": max(0, int(now - self.since)) if self.status in READY else None,
                "gpuTypeId": host.gpu_type_id if host else None, "dataCenterId": host.data_center_id if host else None}


@dataclass
class FakeEndpoint:
    """An endpoint as created (defaults applied), its workers, and its configuration version."""

    id: str
    body: dict[str, Any]  # the endpoint's fields in API form (name, type, image, gpu, workers, scaling, ...)
    created_at: str
    version: int = 1
    workers: list[FakeWorker] = field(default_factory=list)
    gone: list[FakeWorker] = field(default_factory=list)  # scaled down or ended, for the ledger and logs

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def scaling(self) -> dict[str, Any]:
        return dict(self.body["workers"])

    def worker(self, worker_id: str) -> FakeWorker:
        found = next((w for w in [*self.workers, *self.gone] if w.id == worker_id), None)
        if found is None:
            raise Problem(404, "worker not found")
        return found


class Fleet:
    """The endpoints of the fake, sharing the cloud's lock, clock, hosts and logs."""

    def __init__(self, cloud: Cloud, *, init_s: float) -> None:
        self.cloud, self.init_s = cloud, init_s
        self.endpoints: dict[str, FakeEndpoint] = {}
        self.fates: deque[str] = deque()
        self.health_ping: HealthPing | None = None  # set by an attached load balancer
        self.keeps_min_cuda = True  # False: creates drop gpu.minCudaVersion (an older contract did)
        self._ids = itertools.count(1)

    def get(self, endpoint_id: str) -> FakeEndpoint:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            raise Problem(404, "endpoint not found")
        return self.advanced(endpoint)

    def add(self, body: dict[str, Any]) -> FakeEndpoint:
        endpoint = FakeEndpoint(id=uuid.uuid4().hex[:12], body=body, created_at=self.cloud.now_iso())
        self.endpoints[endpoint.id] = endpoint
        return self.advanced(endpoint)

    def remove(self, endpoint: FakeEndpoint) -> None:
        for worker in list(endpoint.workers):
            self._end(endpoint, worker)
        del self.endpoints[endpoint.id]

    # ---- scaling -------------------------------------------------------------------------------------------

    def wake(self, endpoint: FakeEndpoint) -> None:
        """A request found no ready worker: start one, unless one is on its way or `workers.max` is reached."""
        coming = [w for w in endpoint.workers if w.status in ("THROTTLED", "INITIALIZING", *READY)]
        if not coming and len(endpoint.workers) < int(endpoint.scaling["max"]):
            self._start(endpoint)
            self.advanced(endpoint)

    def lower_max(self, endpoint: FakeEndpoint, value: int) -> None:
        """What RunPod does to an endpoint idle for days: `workers.max` lowered, the workers above it ended."""
        endpoint.body["workers"]["max"] = value
        self.advanced(endpoint)

    def advanced(self, endpoint: FakeEndpoint) -> FakeEndpoint:
        now = self.cloud.clock()
        for worker in list(endpoint.workers):
            self._advance(endpoint, worker, now)
        scaling = endpoint.scaling
        while len(endpoint.workers) > int(scaling["max"]):
            extra = min(endpoint.workers, key=lambda w: (w.status in READY, w.last_active))
            self._end(endpoint, extra)
        while len(endpoint.workers) < min(int(scaling["min"]), int(scaling["max"])):
            self._start(endpoint)
        for worker in list(endpoint.workers):
            self._advance(endpoint, worker, now)
        return endpoint

    def _advance(self, endpoint: FakeEndpoint, worker: FakeWorker, now: float) -> None:
        if worker.status == "THROTTLED":
            self._place(endpoint, worker, now)
        if worker.status == "INITIALIZING" and now - worker.since >= self.init_s:
            self._finish_init(endpoint, worker, worker.since + self.init_s)
        idle_timeout = float(endpoint.scaling.get("idleTimeout", 10))
        if (worker.status == "IDLE" and now - worker.last_active >= idle_timeout
                and len(endpoint.workers) > int(endpoint.scaling["min"])):
            self.cloud.log(worker, "system", f"worker idle for {idle_timeout:g} s: scaling down")
            self._end(endpoint, worker)

    def _start(self, endpoint: FakeEndpoint) -> None:
        fate = self.fates.popleft() if self.fates else "ok"
        worker = FakeWorker(id=f"w{next(self._ids):04d}{uuid.uuid4().hex[:6]}", status="THROTTLED",
                            since=self.cloud.clock(), fate=fate, version=endpoint.version,
                            gpu_count=int(endpoint.body["gpu"].get("count", 1)))
        worker.history.append(("THROTTLED", worker.since))
        endpoint.workers.append(worker)

    def _place(self, endpoint: FakeEndpoint, worker: FakeWorker, now: float) -> None:
        host = self._free_host(endpoint, worker.gpu_count)
        if host is None:
            return
        host.free_gpus -= worker.gpu_count
        worker.host = host
        self._enter(worker, "INITIALIZING", now)
        self.cloud.log(worker, "system", f"worker placed on a {host.gpu_type_id} host in {host.data_center_id} "
                       f"(CUDA {host.cuda_version}); pulling {endpoint.body['image']}")

    def _free_host(self, endpoint: FakeEndpoint, count: int) -> FakeHost | None:
        gpu = endpoint.body["gpu"]
        pooled = {g.id for g in self.cloud.gpu_types.values() if g.pool in gpu["pools"]}
        types = pooled - set(gpu.get("excludedTypes", []))
        floor, allowed = gpu.get("minCudaVersion"), gpu.get("allowedCudaVersions") or []
        return next((h for h in self.cloud.hosts
                     if h.gpu_type_id in types and h.cloud == "SECURE" and h.free_gpus >= count
                     and (not allowed or h.cuda_version in allowed)
                     and (not floor or version(h.cuda_version) >= version(floor))), None)

    def _finish_init(self, endpoint: FakeEndpoint, worker: FakeWorker, at: float) -> None:
        assert worker.host is not None
        needed = self.cloud.image_cuda.get(str(endpoint.body["image"]))
        if needed and version(worker.host.cuda_version) < version(needed):
            for line in CUDA_GATE_LINES:
                self.cloud.log(worker, "system", line.format(needed=needed))
            self._enter(worker, "UNHEALTHY", at)
        elif worker.fate in ("unhealthy", "echo_env"):
            for key, value in (endpoint.body.get("env") or {}).items() if worker.fate == "echo_env" else ():
                self.cloud.log(worker, "system", f"start.sh: {key}={value}")
            self.cloud.log(worker, "system", "health check GET /ping answered 503: removed from routing")
            self._enter(worker, "UNHEALTHY", at)
        elif self.health_ping is None or self.health_ping() == 200:
            self._enter(worker, "IDLE", at)
            worker.last_active, worker.started_at = at, self.cloud.now_iso()
            self.cloud.log(worker, "container", "INFO: Application startup complete.")

    def _end(self, endpoint: FakeEndpoint, worker: FakeWorker) -> None:
        if worker.host is not None and worker.status in HOLDS_GPUS:
            worker.host.free_gpus += worker.gpu_count
        self._enter(worker, "ENDED", self.cloud.clock())
        endpoint.workers.remove(worker)
        endpoint.gone.append(worker)

    def _enter(self, worker: FakeWorker, status: str, at: float) -> None:
        worker.status, worker.since = status, at
        worker.history.append((status, at))
