"""The fake's state and how it moves: GPU types, hosts, pods and their logs, behind one lock.

Pods move PROVISIONING -> STARTING -> RUNNING on the configured `Timings`, computed lazily from the fake
clock whenever a pod is looked at (`advanced`), so a pod's history holds the times its phases really ended.
An image whose CUDA requirement (`image_cuda`) exceeds its host's turns ERROR with the nvidia-container-cli
line in its system log. A stopped pod keeps its host and frees its GPUs; starting it again needs free GPUs
on that same host. Other resources (serverless endpoints, network volumes) get their own modules beside
`pods`, sharing this state's lock, clock and hosts.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from tests.fakes.runpod.model import (
    ACTIONS_BY_STATUS,
    NO_FREE_GPUS,
    FakeDataCenter,
    FakeGpuType,
    FakeHost,
    FakePod,
    FakeVolume,
    Timings,
    version,
)
from tests.fakes.runpod.problem import Problem

__all__ = ["CUDA_GATE_LINES", "Cloud"]

CUDA_GATE_LINES = (
    "error starting container: Error response from daemon: failed to create task for container: failed to "
    "create shim task: OCI runtime create failed: runc create failed: unable to start container process: error "
    "during container init: error running prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode "
    "as 'legacy'",
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>={needed}, please update your driver "
    "to a newer version, or use an earlier cuda container: unknown",
)


class Logged(Protocol):
    """What keeps a log: a pod, a serverless worker."""

    logs: list[dict[str, Any]]


class Cloud:
    """Everything the fake knows, guarded by `lock`; `log_added` wakes the log streams."""

    def __init__(self, *, gpu_types: Iterable[FakeGpuType], hosts: Iterable[FakeHost], timings: Timings,
                 image_cuda: Mapping[str, str], forget_terminated: bool, clock: Callable[[], float],
                 data_centers: Iterable[FakeDataCenter] = ()) -> None:
        self.gpu_types = {g.id: g for g in gpu_types}
        self.data_centers = {dc.id: dc for dc in data_centers}
        self.hosts = list(hosts)
        self.timings = timings
        self.image_cuda = dict(image_cuda)  # image -> the CUDA its NVIDIA_REQUIRE_CUDA demands
        self.forget_terminated = forget_terminated  # terminated pods answer 404 (else status TERMINATED)
        self.forbidden_gpu_types: set[str] = set()  # creates on these answer 403
        # How answers spell a pod's image (RunPod may normalise the reference it was given): identity by default.
        self.image_spelling: Callable[[str], str] = lambda image: image
        self.clock = clock
        self.pods: dict[str, FakePod] = {}
        self.volumes: dict[str, FakeVolume] = {}
        self.fates: deque[str] = deque()
        self.lock = threading.RLock()
        self.log_added = threading.Condition(self.lock)
        self._seq = itertools.count(1)

    # ---- pods as RunPod shows them ---------------------------------------------------------------------------

    def visible(self, pod_id: str) -> FakePod:
        pod = self.pods.get(pod_id)
        if pod is None or (pod.status == "TERMINATED" and self.forget_terminated):
            raise Problem(404, "pod not found")
        return self.advanced(pod_id)

    def live_pods(self) -> list[FakePod]:
        """Every pod not terminated, in any status."""
        with self.lock:
            return [self.advanced(p.id) for p in list(self.pods.values()) if p.status != "TERMINATED"]

    def advanced(self, pod_id: str) -> FakePod:
        """The pod with its phases moved on to the fake clock's now."""
        pod = self.pods[pod_id]
        now = self.clock()
        while True:
            t = self.timings
            starting_s = t.slow_starting_s if pod.fate == "slow" else t.starting_s
            if pod.status == "PROVISIONING" and now - pod.phase_since >= t.provisioning_s:
                self.enter(pod, "STARTING", pod.phase_since + t.provisioning_s)
                self.log(pod, "system", f"Pulling image {pod.image}")
            elif (pod.status == "STARTING" and pod.fate != "stuck_starting"
                  and now - pod.phase_since >= starting_s):
                self._finish_start(pod, pod.phase_since + starting_s)
            else:
                return pod

    def _finish_start(self, pod: FakePod, at: float) -> None:
        needed = self.image_cuda.get(pod.image)
        if needed and version(pod.host.cuda_version) < version(needed):
            self.enter(pod, "ERROR", at)
            for line in CUDA_GATE_LINES:
                self.log(pod, "system", line.format(needed=needed))
        elif pod.fate == "echo_env":
            lines = [f"{key}={value}" for key, value in pod.env.items()] or ["(no env)"]
            for line in lines:
                self.log(pod, "system", f"start.sh: {line}")
            self.enter(pod, "ERROR", at)
            self.log(pod, "system", f"start.sh: exiting, cannot use {lines[-1]}")
        elif pod.fate in ("error", "exited"):
            self.enter(pod, "ERROR" if pod.fate == "error" else "EXITED", at)
            if pod.fate == "exited":
                pod.host.free_gpus += pod.gpu_count
            self.log(pod, "system", "container exited with code 1")
        else:
            self.enter(pod, "RUNNING", at)
            pod.started_at = self.now_iso()
            self.log(pod, "system", "Container started")
            self.log(pod, "container", "INFO: Started server process")

    # ---- transitions -----------------------------------------------------------------------------------------

    def new_pod(self, body: Mapping[str, Any], host: FakeHost, fate: str, *, reserved: bool = False,
                requested_at: float | None = None) -> FakePod:
        """A pod of a create `body` on `host` (whose GPUs a deferred create already `reserved`)."""
        gpu = body["gpu"]
        count = int(gpu.get("count", 1))
        if not reserved:
            host.free_gpus -= count
        pod = FakePod(
            id=uuid.uuid4().hex[:14], name=body["name"], image=body["image"], gpu_type_id=gpu["id"],
            gpu_count=count, host=host, cloud=body.get("cloud", "SECURE"), args=body.get("args", ""),
            disk=body.get("disk", 50), env=dict(body.get("env", {})), ports=list(body.get("ports", [])),
            registry=body.get("registry"), mounts=dict(body.get("mounts", {})), fate=fate,
            created_at=self.now_iso(), requested_at=self.clock() if requested_at is None else requested_at,
        )
        self.enter(pod, "PROVISIONING", self.clock())
        self.pods[pod.id] = pod
        self.log(pod, "system", f"Pod {pod.id} scheduled on a {pod.gpu_type_id} host in {host.data_center_id}")
        return pod

    def stop(self, pod: FakePod) -> None:
        if pod.holds_gpus:
            pod.host.free_gpus += pod.gpu_count
        self.enter(pod, "EXITED", self.clock())
        pod.started_at = None
        self.log(pod, "system", "Pod stopped")

    def terminate(self, pod: FakePod) -> None:
        if pod.holds_gpus:
            pod.host.free_gpus += pod.gpu_count
        self.enter(pod, "TERMINATED", self.clock())

    def start(self, pod: FakePod) -> None:
        if not pod.holds_gpus:  # a pod in ERROR still holds its GPUs: its restart books none
            if pod.host.free_gpus < pod.gpu_count:
                raise Problem(400, NO_FREE_GPUS)
            pod.host.free_gpus -= pod.gpu_count
        self.enter(pod, "STARTING", self.clock())
        self.log(pod, "system", "Pod starting")

    def enter(self, pod: FakePod, status: str, at: float) -> None:
        pod.status, pod.phase_since = status, at
        pod.history.append((status, at))

    def log(self, owner: Logged, source: str, line: str) -> None:
        owner.logs.append({"seq": next(self._seq), "ts": self.now_iso(), "source": source, "line": line})
        self.log_added.notify_all()

    def now_iso(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # ---- placement -------------------------------------------------------------------------------------------

    def pick_host(self, gpu: Mapping[str, Any], cloud: str, *, ignore_floor: bool = False,
                  data_centers: Iterable[str] = ()) -> FakeHost | None:
        """The first host of the type with free GPUs and the CUDA the create asked for, in `data_centers` when
        given (`ignore_floor`: RunPod misplacing it on an older driver, which it has been seen to do)."""
        places = set(data_centers)
        count = int(gpu.get("count", 1))
        allowed = [] if ignore_floor else gpu.get("allowedCudaVersions") or []
        floor = None if ignore_floor else gpu.get("minCudaVersion")
        fits = [h for h in self.hosts
                if h.gpu_type_id == gpu["id"] and h.cloud == cloud and h.free_gpus >= count
                and (not places or h.data_center_id in places)
                and (not allowed or h.cuda_version in allowed)
                and (floor is None or version(h.cuda_version) >= version(floor))]
        if ignore_floor:
            fits.sort(key=lambda h: version(h.cuda_version))
        return fits[0] if fits else None

    def pod_json(self, pod: FakePod) -> dict[str, Any]:
        """A v2 `Pod`."""
        price = self.gpu_types[pod.gpu_type_id]
        rate = price.price_secure if pod.cloud == "SECURE" else price.price_community
        running = pod.status == "RUNNING"
        http_ports = [int(p.split("/")[0]) for p in pod.ports if p.endswith("/http")]
        return {
            "id": pod.id, "name": pod.name, "status": pod.status, "actions": list(ACTIONS_BY_STATUS[pod.status]),
            "image": self.image_spelling(pod.image), "args": pod.args, "disk": pod.disk, "mounts": pod.mounts,
            "ports": pod.ports, "env": pod.env, "registry": pod.registry, "cloud": pod.cloud,
            "dataCenterId": pod.host.data_center_id, "cudaVersion": pod.host.cuda_version,
            "ssh": {"proxy": {"host": "ssh.runpod.io", "port": 22, "username": f"{pod.id}-64411eb2",
                              "command": f"ssh {pod.id}-64411eb2@ssh.runpod.io"}, "direct": None},
            "template": None, "cost": round(rate * pod.gpu_count, 4) if pod.holds_gpus else 0.0,
            "locked": pod.locked, "globalNetworking": {"enabled": False},
            "runtime": {"uptime": max(0, int(self.clock() - pod.phase_since)), "gpus": [],
                        "ports": [{"private": p, "public": None, "type": "http", "ip": None} for p in http_ports]}
            if running else None,
            "createdAt": pod.created_at, "startedAt": pod.started_at,
            "gpu": {"id": pod.gpu_type_id, "count": pod.gpu_count},
        }
