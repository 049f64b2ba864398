"""The pod routes of REST v2: `GET/POST /v2/pods`, `GET/PATCH/DELETE /v2/pods/{id}`, `POST /v2/pods/{id}/action`.

Bodies are checked against the contract first (422), then the handler's cross-field rules (400). A create
honours `gpu.minCudaVersion` / `gpu.allowedCudaVersions` and `dataCenterIds`, and a mounted network volume's
data center (`volumes`); no matching free host answers RunPod's capacity `detail`. A create accepted with a
fault's `land_after_s` holds its host's GPUs at once and makes its pod later, on a timer the fake can wait for
(`Landings`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.contract import check_body
from tests.fakes.runpod.model import ACTIONS_BY_STATUS, NO_INSTANCES, FakeHost, FakePod
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router
from tests.fakes.runpod.volumes import check_volume_host, mounted_volume

__all__ = ["Landings", "PodRoutes"]


class Landings:
    """Creates accepted now whose pods appear later: pending until their timer fires (or the fake stops)."""

    def __init__(self) -> None:
        self.timers: list[threading.Timer] = []
        self.done = threading.Condition()
        self.pending = 0

    def schedule(self, delay_s: float, land: Any) -> None:
        def fire() -> None:
            try:
                land()
            finally:
                with self.done:
                    self.pending -= 1
                    self.done.notify_all()

        timer = threading.Timer(delay_s, fire)
        timer.daemon = True
        with self.done:
            self.pending += 1
            self.timers.append(timer)
        timer.start()

    def wait(self, timeout_s: float) -> bool:
        """Whether every scheduled pod has landed within `timeout_s`."""
        with self.done:
            return self.done.wait_for(lambda: self.pending == 0, timeout=timeout_s)

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()


class PodRoutes:
    def __init__(self, cloud: Cloud, landings: Landings) -> None:
        self.cloud, self.landings = cloud, landings

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/pods", self.list)
        router.add("POST", r"/v2/pods", self.create)
        router.add("GET", r"/v2/pods/([^/]+)", self.get)
        router.add("PATCH", r"/v2/pods/([^/]+)", self.patch)
        router.add("DELETE", r"/v2/pods/([^/]+)", self.delete)
        router.add("POST", r"/v2/pods/([^/]+)/action", self.action)

    def list(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, {"pods": [self.cloud.pod_json(p) for p in self.cloud.live_pods()]}

    def get(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, self.cloud.pod_json(self.cloud.visible(request.groups[0]))

    def delete(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            pod = self.cloud.visible(request.groups[0])
            if pod.status == "TERMINATED":
                raise Problem(404, "pod not found")
            self.cloud.terminate(pod)
            return 204, None

    def create(self, request: Request) -> tuple[int, Any]:
        body, fault = request.body, request.fault
        check_body("CreatePodRequest", body)
        with self.cloud.lock:
            host = self._placement(body, below_floor=bool(fault and fault.below_floor))
            fate = self.cloud.fates.popleft() if self.cloud.fates else "ok"
            if fault is None or fault.land_after_s is None:
                return 201, self.cloud.pod_json(self.cloud.new_pod(body, host, fate))
            host.free_gpus -= int(body["gpu"].get("count", 1))  # held for the pod that lands later
            requested = self.cloud.clock()
            self.landings.schedule(fault.land_after_s, lambda: self._land(body, host, fate, requested))
            return 202, None  # never seen: such a fault always answers instead

    def _land(self, body: Mapping[str, Any], host: FakeHost, fate: str, requested_at: float) -> None:
        with self.cloud.lock:
            self.cloud.new_pod(body, host, fate, reserved=True, requested_at=requested_at)

    def _placement(self, body: Mapping[str, Any], *, below_floor: bool) -> FakeHost:
        if ("gpu" in body) == ("cpu" in body):
            raise Problem(400, "exactly one of gpu or cpu must be set")
        if "cpu" in body or "templateId" in body:
            raise Problem(400, "CPU pods and templates are not offered by this fake")
        gpu = body["gpu"]
        if gpu.get("allowedCudaVersions") and "minCudaVersion" in gpu:
            raise Problem(400, "allowedCudaVersions and minCudaVersion are mutually exclusive")
        if len(body.get("mounts", {})) > 1:
            raise Problem(400, "mounts.persistent and mounts.network are mutually exclusive")
        if gpu["id"] not in self.cloud.gpu_types:
            raise Problem(400, f"unknown GPU type {gpu['id']!r}")
        if gpu["id"] in self.cloud.forbidden_gpu_types:
            raise Problem(403, "access denied")
        volume = mounted_volume(self.cloud, body)
        host = self.cloud.pick_host(gpu, body.get("cloud", "SECURE"), ignore_floor=below_floor,
                                    data_centers=body.get("dataCenterIds") or ())
        if host is None:
            raise Problem(400, NO_INSTANCES)
        check_volume_host(volume, host)
        return host

    def patch(self, request: Request) -> tuple[int, Any]:
        body = request.body
        check_body("UpdatePodRequest", body)
        with self.cloud.lock:
            pod = self.cloud.visible(request.groups[0])
            mounts = body.get("mounts") or {}
            if mounts and set(mounts) != set(pod.mounts):
                raise Problem(400, "mount kind is fixed at create")
            for old, new in zip(pod.mounts.get("network", []), mounts.get("network", []), strict=False):
                if old["volumeId"] != new["volumeId"]:
                    raise Problem(400, "the volumeId of a network mount is immutable")
            resets = False
            for key in ("image", "args", "disk", "env", "ports", "registry"):
                if key in body and body[key] != getattr(pod, key):
                    setattr(pod, key, body[key])
                    resets = True
            if mounts:
                pod.mounts = mounts
            pod.name = body.get("name", pod.name)
            pod.locked = body.get("locked", pod.locked)
            if resets and pod.status == "RUNNING":  # editing a running pod resets its container
                self.cloud.enter(pod, "STARTING", self.cloud.clock())
                self.cloud.log(pod, "system", "Pod reset after an edit")
            return 200, self.cloud.pod_json(pod)

    def action(self, request: Request) -> tuple[int, Any]:
        check_body("PodActionRequest", request.body)
        with self.cloud.lock:
            pod = self.cloud.visible(request.groups[0])
            action = request.body["action"]
            if action not in ACTIONS_BY_STATUS[pod.status]:
                raise Problem(409, f"action '{action}' is not valid for a pod in status {pod.status}")
            self._act(pod, action)
            return (204, None) if action == "terminate" else (200, self.cloud.pod_json(pod))

    def _act(self, pod: FakePod, action: str) -> None:
        if action == "terminate":
            self.cloud.terminate(pod)
        elif action == "stop":
            self.cloud.stop(pod)
        elif action == "start":
            self.cloud.start(pod)
        else:
            self.cloud.enter(pod, "STARTING", self.cloud.clock())
