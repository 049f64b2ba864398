"""`FakeRunPod`: the server on 127.0.0.1, its routes, and the test API that stages faults and reads the ledger."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.runpod.balancer import LoadBalancer
from tests.fakes.runpod.catalog import CatalogRoutes
from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.faults import Fault, FaultBook
from tests.fakes.runpod.handler import Handler
from tests.fakes.runpod.logs import LogRoutes
from tests.fakes.runpod.model import (
    DEFAULT_DATA_CENTERS,
    DEFAULT_GPU_TYPES,
    FATES,
    FakeDataCenter,
    FakeGpuType,
    FakeHost,
    FakePod,
    FakeVolume,
    RecordedRequest,
    Timings,
    default_hosts,
)
from tests.fakes.runpod.pods import Landings, PodRoutes
from tests.fakes.runpod.routes import Router
from tests.fakes.runpod.serverless import ServerlessRoutes
from tests.fakes.runpod.volumes import VolumeRoutes
from tests.fakes.runpod.workers import WORKER_FATES, FakeEndpoint, FakeWorker, Fleet

__all__ = ["FakeRunPod"]


class FakeRunPod:
    """RunPod REST v2 on 127.0.0.1. Thread-safe; inspect `pods`, `requests_log`, `billing_pods()`, `billing()`."""

    def __init__(self, *, api_key: str = "rp_test_key_0123456789", gpu_types: Sequence[FakeGpuType] = (),
                 hosts: Sequence[FakeHost] | None = None, timings: Timings | None = None,
                 image_cuda: Mapping[str, str] | None = None, forget_terminated: bool = True,
                 sse_keepalive_s: float = 0.2, sse_max_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 data_centers: Sequence[FakeDataCenter] = DEFAULT_DATA_CENTERS, worker_init_s: float = 0.1,
                 volume_root: Path | None = None) -> None:
        self.api_key = api_key
        self.cloud = Cloud(gpu_types=gpu_types or DEFAULT_GPU_TYPES, hosts=default_hosts() if hosts is None else hosts,
                           timings=timings or Timings(), image_cuda=image_cuda or {},
                           forget_terminated=forget_terminated, clock=clock, data_centers=data_centers)
        self.fleet = Fleet(self.cloud, init_s=worker_init_s)
        self.balancers: list[LoadBalancer] = []
        self.fault_book = FaultBook()
        self.landings = Landings()
        self.requests_log: list[RecordedRequest] = []
        self.in_flight: dict[int, RecordedRequest] = {}  # arrived, not answered yet (status 0 until then)
        self._stopping = threading.Event()
        self.router = Router()
        PodRoutes(self.cloud, self.landings).register(self.router)
        LogRoutes(self.cloud, self.fleet, self._stopping, keepalive_s=sse_keepalive_s,
                  max_s=sse_max_s).register(self.router)
        CatalogRoutes(self.cloud).register(self.router)
        ServerlessRoutes(self.cloud, self.fleet).register(self.router)
        self.volume_routes = VolumeRoutes(self.cloud, volume_root)
        self.volume_routes.register(self.router)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- the state, as tests name it -------------------------------------------------------------------------

    @property
    def pods(self) -> dict[str, FakePod]:
        return self.cloud.pods

    @property
    def volumes(self) -> dict[str, FakeVolume]:
        return self.cloud.volumes

    @property
    def hosts(self) -> list[FakeHost]:
        return self.cloud.hosts

    @property
    def forbidden_gpu_types(self) -> set[str]:
        return self.cloud.forbidden_gpu_types

    @property
    def image_spelling(self) -> Callable[[str], str]:
        """How answers spell a pod's image (set it to model a registry-normalising API)."""
        return self.cloud.image_spelling

    @image_spelling.setter
    def image_spelling(self, spell: Callable[[str], str]) -> None:
        self.cloud.image_spelling = spell

    @property
    def faults(self) -> list[Fault]:
        return self.fault_book.faults

    @property
    def clock(self) -> Callable[[], float]:
        return self.cloud.clock

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeRunPod:
        handler = type("BoundHandler", (Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-runpod",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for balancer in self.balancers:
            balancer.close()
        self.landings.cancel()
        with self.cloud.log_added:
            self.cloud.log_added.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeRunPod:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def arrived(self, request: RecordedRequest) -> None:
        with self.cloud.lock:
            self.in_flight[id(request)] = request

    def record(self, request: RecordedRequest, arrival: RecordedRequest | None = None) -> None:
        """The request answered (logged before the answer is written, so a test that got it sees the call)."""
        with self.cloud.lock:
            self.requests_log.append(request)
            if arrival is not None:
                self.in_flight.pop(id(arrival), None)

    # ---- staging faults --------------------------------------------------------------------------------------

    def inject(self, method: str, path: str, status: int | None = 500, *, times: int = 1, **how: Any) -> Fault:
        """Misbehave on the next `times` requests matching `method` and `path` (a regex); `how` takes the other
        fields of `Fault` (retry_after, html, delay_s, detail, after_apply, land_after_s, drop, echo_env,
        below_floor)."""
        fault = Fault(method, path, status, times, **how)
        if fault.land_after_s is not None and not fault.answers:
            raise ValueError("a create that lands later must be answered with an error or not at all")
        return self.fault_book.add(fault)

    def lose_next_create(self, status: int = 500) -> Fault:
        """The next create makes its pod, then answers `status` (RunPod's read-back failure)."""
        return self.inject("POST", "/v2/pods", status, after_apply=True)

    def next_pods(self, fate: str, count: int = 1) -> None:
        """The next `count` created pods get `fate` (model.FATES: 'slow', 'stuck_starting', 'error', ...)."""
        if fate not in FATES:
            raise ValueError(f"unknown fate {fate!r}; known: {sorted(FATES)}")
        with self.cloud.lock:
            self.cloud.fates.extend([fate] * count)

    def fill_host(self, pod_id: str) -> None:
        """Take every free GPU of the pod's host (another tenant), so a start is refused."""
        with self.cloud.lock:
            self.pods[pod_id].host.free_gpus = 0

    def set_free_gpus(self, gpu_type_id: str, free: int) -> None:
        with self.cloud.lock:
            for host in self.hosts:
                if host.gpu_type_id == gpu_type_id:
                    host.free_gpus = free

    # ---- out of band: the console, another tenant, the pod itself -------------------------------------------

    def add_pod(self, name: str, *, gpu_type_id: str = "NVIDIA A40", image: str = "busybox",
                status: str = "RUNNING") -> FakePod:
        """A pod made elsewhere (the console, another stack, a leak), already in `status`."""
        with self.cloud.lock:
            host = next(h for h in self.hosts if h.gpu_type_id == gpu_type_id)
            pod = self.cloud.new_pod({"name": name, "image": image, "gpu": {"id": gpu_type_id}}, host, "ok")
            pod.status = status
            if not pod.holds_gpus:
                host.free_gpus += pod.gpu_count
            pod.history.append((status, self.clock()))
            return pod

    def add_volume(self, name: str, size: int = 50, data_center: str = "US-TX-3",
                   kind: str = "STANDARD") -> FakeVolume:
        """A volume made elsewhere (the console, a destroy that kept it, a create whose answer was lost)."""
        with self.cloud.lock:
            return self.volume_routes.add(name, size, data_center, kind)

    def volumes_named(self, name: str) -> list[FakeVolume]:
        with self.cloud.lock:
            return [v for v in self.cloud.volumes.values() if v.name == name]

    def stop_out_of_band(self, pod_id: str) -> None:
        """What the console's Stop button does."""
        with self.cloud.lock:
            self.cloud.stop(self.cloud.advanced(pod_id))

    def terminate_out_of_band(self, pod_id: str) -> None:
        with self.cloud.lock:
            self.cloud.terminate(self.cloud.advanced(pod_id))

    def crash(self, pod_id: str) -> None:
        """The pod's container dies for good: ERROR, which keeps its GPUs (and bills)."""
        with self.cloud.lock:
            pod = self.cloud.advanced(pod_id)
            if pod.holds_gpus:
                self.cloud.enter(pod, "ERROR", self.clock())
                self.cloud.log(pod, "system", "container exited with code 137")

    def append_log(self, pod_id: str, source: str, line: str) -> None:
        with self.cloud.log_added:
            self.cloud.log(self.pods[pod_id], source, line)

    # ---- serverless -----------------------------------------------------------------------------------------

    @property
    def endpoints(self) -> dict[str, FakeEndpoint]:
        return self.fleet.endpoints

    def balancer(self, backend: str) -> LoadBalancer:
        """The load balancer in front of every endpoint, sending what it routes to `backend` (stopped with the fake)."""
        front = LoadBalancer(self.cloud, self.fleet, self.api_key, backend)
        self.balancers.append(front)
        return front

    def next_workers(self, fate: str, count: int = 1) -> None:
        """The next `count` workers started get `fate` ('ok', 'unhealthy', 'echo_env')."""
        if fate not in WORKER_FATES:
            raise ValueError(f"unknown worker fate {fate!r}; known: {sorted(WORKER_FATES)}")
        with self.cloud.lock:
            self.fleet.fates.extend([fate] * count)

    def workers_of(self, endpoint_id: str) -> list[FakeWorker]:
        """The endpoint's active workers, moved on to now."""
        with self.cloud.lock:
            return list(self.fleet.get(endpoint_id).workers)

    def lower_workers_max(self, endpoint_id: str, value: int) -> None:
        """RunPod lowering `workers.max` by itself (after days without requests)."""
        with self.cloud.lock:
            self.fleet.lower_max(self.fleet.get(endpoint_id), value)

    def endpoints_named(self, name: str) -> list[FakeEndpoint]:
        with self.cloud.lock:
            return [e for e in self.fleet.endpoints.values() if e.name == name]

    # ---- the ledger ------------------------------------------------------------------------------------------

    def live_pods(self) -> list[FakePod]:
        """Every pod not terminated, in any status."""
        return self.cloud.live_pods()

    def billing_pods(self) -> list[FakePod]:
        """Pods that cost money right now (they hold GPUs)."""
        return [p for p in self.live_pods() if p.holds_gpus]

    def billing(self, pod_id: str) -> list[tuple[float, float | None]]:
        """When the pod held GPUs (fake clock): (start, end) intervals, end None while it still does."""
        with self.cloud.lock:
            return self.cloud.advanced(pod_id).billing()

    def pods_named(self, name: str) -> list[FakePod]:
        return [p for p in self.live_pods() if p.name == name]

    def wait_landings(self, timeout_s: float) -> bool:
        """Wait until every create accepted to land later has made its pod; False if some still has not."""
        return self.landings.wait(timeout_s)

    def calls(self, method: str, path: str = ".*") -> list[RecordedRequest]:
        with self.cloud.lock:
            return [r for r in self.requests_log if r.method == method and re.fullmatch(path, r.path)]

    def status_of(self, pod_id: str) -> str:
        with self.cloud.lock:
            return self.cloud.advanced(pod_id).status
