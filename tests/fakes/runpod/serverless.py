"""The serverless routes of REST v2: `GET/POST /v2/serverless`, `GET/PATCH/DELETE /v2/serverless/{id}` and
`GET /v2/serverless/{id}/workers`.

Bodies are checked against the contract first (422: `CreateEndpointRequest`, `UpdateEndpointRequest`), then the
cross-field rules the spec states in prose (400): exactly one of `gpu` or `cpu`; a CUDA floor beside a
non-empty CUDA set; pools the catalog does not know; an excluded type in none of the pools, or exclusions that
leave no type; `workers.idleTimeout` on a queue endpoint that scales on request count; `min` above `max`. The
spec's defaults are applied on create; a PATCH changes only what it sends (`gpu.pools` without `excludedTypes`
clears the exclusions), and a change to the container makes a new endpoint version, which leaves the running
workers stale until they are replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.contract import check_body
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router
from tests.fakes.runpod.workers import FakeEndpoint, Fleet

__all__ = ["ServerlessRoutes", "endpoint_json"]

CONTAINER = ("image", "args", "disk", "env", "ports", "registry")
_DEFAULT_WORKERS = {"min": 0, "max": 3, "idleTimeout": 10}


class ServerlessRoutes:
    def __init__(self, cloud: Cloud, fleet: Fleet) -> None:
        self.cloud, self.fleet = cloud, fleet

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/serverless", self.list)
        router.add("POST", r"/v2/serverless", self.create)
        router.add("GET", r"/v2/serverless/([^/]+)", self.get)
        router.add("PATCH", r"/v2/serverless/([^/]+)", self.patch)
        router.add("DELETE", r"/v2/serverless/([^/]+)", self.delete)
        router.add("GET", r"/v2/serverless/([^/]+)/workers", self.workers)

    def list(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, {"endpoints": [endpoint_json(self.fleet.advanced(e)) for e in self.fleet.endpoints.values()]}

    def get(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, endpoint_json(self.fleet.get(request.groups[0]))

    def delete(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            self.fleet.remove(self.fleet.get(request.groups[0]))
            return 204, None

    def create(self, request: Request) -> tuple[int, Any]:
        body = request.body
        check_body("CreateEndpointRequest", body)
        self._check_compute(body)
        with self.cloud.lock:
            made = _with_defaults(body)
            if not self.fleet.keeps_min_cuda:
                made["gpu"].pop("minCudaVersion", None)
            self._check_selection(made)
            return 201, endpoint_json(self.fleet.add(made))

    def patch(self, request: Request) -> tuple[int, Any]:
        body = request.body
        check_body("UpdateEndpointRequest", body)
        if "cpu" in body:
            raise Problem(400, "cpu on a GPU endpoint: the compute family of an endpoint cannot change")
        with self.cloud.lock:
            endpoint = self.fleet.get(request.groups[0])
            changed = _patched(endpoint.body, body)
            self._check_selection(changed)
            if any(changed.get(k) != endpoint.body.get(k) for k in CONTAINER):
                endpoint.version += 1  # a new release: running workers keep the old one until replaced
            endpoint.body = changed
            return 200, endpoint_json(self.fleet.advanced(endpoint))

    def workers(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            endpoint = self.fleet.get(request.groups[0])
            now = self.cloud.clock()
            workers = [w.json(str(endpoint.body["image"]), w.version != endpoint.version, now)
                       for w in endpoint.workers]
            summary = {s.lower(): sum(w["status"] == s for w in workers)
                       for s in ("RUNNING", "IDLE", "INITIALIZING", "THROTTLED", "UNHEALTHY")}
            return 200, {"workers": workers, "summary": {**summary, "total": len(workers)},
                         "endpointVersion": endpoint.version}

    # ---- the rules the spec states in prose ---------------------------------------------------------------

    @staticmethod
    def _check_compute(body: Mapping[str, Any]) -> None:
        if ("gpu" in body) == ("cpu" in body):
            raise Problem(400, "exactly one of gpu or cpu must be set")
        if "cpu" in body or "templateId" in body:
            raise Problem(400, "CPU endpoints and templates are not offered by this fake")

    def _check_selection(self, body: Mapping[str, Any]) -> None:
        gpu, workers = body["gpu"], body["workers"]
        if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
            raise Problem(400, "allowedCudaVersions and minCudaVersion are mutually exclusive")
        pools = {g.pool for g in self.cloud.gpu_types.values() if g.pool}
        if unknown := [p for p in gpu["pools"] if p not in pools]:
            raise Problem(400, f"unknown serverless pool(s): {', '.join(unknown)}")
        types = {g.id for g in self.cloud.gpu_types.values() if g.pool in gpu["pools"]}
        excluded = [t.strip() for t in gpu.get("excludedTypes", [])]
        if stray := [t for t in excluded if t not in types]:
            raise Problem(400, f"excludedTypes: {', '.join(stray)} is not a GPU type in the selected pools")
        if types <= set(excluded):
            raise Problem(400, "excludedTypes leaves no GPU type in the selected pools")
        if body["type"] == "QUEUE" and body["scaling"]["type"] == "REQUEST_COUNT" and "idleTimeout" in workers:
            raise Problem(400, "workers.idleTimeout does not apply to a queue endpoint scaling on requestCount")
        if int(workers["min"]) > int(workers["max"]):
            raise Problem(400, "workers.min cannot exceed workers.max")


def _with_defaults(body: Mapping[str, Any]) -> dict[str, Any]:
    made = copy.deepcopy(dict(body))
    workers = {**_DEFAULT_WORKERS, **made.get("workers", {})}
    if made["type"] == "QUEUE" and made["scaling"]["type"] == "REQUEST_COUNT" and "idleTimeout" not in made.get(
            "workers", {}):
        workers.pop("idleTimeout")
    made["workers"] = workers
    made["gpu"] = {"count": 1, **made["gpu"]}
    made.setdefault("flashboot", "OFF")
    made.setdefault("timeout", 300000)
    for key, empty in (("dataCenterIds", []), ("networkVolumes", []), ("env", {}), ("ports", []), ("args", "")):
        made.setdefault(key, empty)
    return made


def _patched(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(dict(current))
    for key, value in body.items():
        if key == "workers":
            changed["workers"] = {**changed["workers"], **value}
        elif key == "gpu":
            gpu = {**changed["gpu"], **{k: v for k, v in value.items() if k != "minCudaVersion"}}
            if "pools" in value:
                gpu["excludedTypes"] = list(value.get("excludedTypes", []))  # pools without them clears them
            if "minCudaVersion" in value:
                gpu["minCudaVersion"] = value["minCudaVersion"] or None
            changed["gpu"] = gpu
        else:
            changed[key] = copy.deepcopy(value)
    return changed


def endpoint_json(endpoint: FakeEndpoint) -> dict[str, Any]:
    """A v2 `Endpoint`."""
    b = endpoint.body
    gpu = b["gpu"]
    base = f"https://{endpoint.id}.api.runpod.ai"
    if b["type"] == "LOAD_BALANCER":
        urls = {"base": base, "health": base + str(b["env"].get("HEALTH_CHECK_PATH", "/ping"))}
    else:
        queue = f"https://api.runpod.ai/v2/{endpoint.id}"
        urls = {"run": f"{queue}/run", "runSync": f"{queue}/runsync", "status": f"{queue}/status/{{job_id}}",
                "stream": f"{queue}/stream/{{job_id}}", "cancel": f"{queue}/cancel/{{job_id}}",
                "retry": f"{queue}/retry/{{job_id}}", "purgeQueue": f"{queue}/purge-queue", "health": f"{queue}/health"}
    shown_gpu: dict[str, Any] = {"pools": list(gpu["pools"]), "count": gpu["count"],
                                 "allowedCudaVersions": list(gpu.get("allowedCudaVersions") or []),
                                 "minCudaVersion": gpu.get("minCudaVersion") or None}
    if gpu.get("excludedTypes"):
        shown_gpu["excludedTypes"] = list(gpu["excludedTypes"])
    answer: dict[str, Any] = {
        "id": endpoint.id, "name": b["name"], "type": b["type"], "requestUrls": urls, "gpu": shown_gpu,
        "workers": dict(b["workers"]), "scaling": dict(b["scaling"]), "dataCenterIds": list(b["dataCenterIds"]),
        "networkVolumes": list(b["networkVolumes"]), "timeout": b["timeout"], "flashboot": b["flashboot"],
        "createdAt": endpoint.created_at, "image": b["image"], "args": b["args"], "env": dict(b["env"]),
        "ports": list(b["ports"]), "registry": b.get("registry"),
    }
    if "disk" in b:
        answer["disk"] = b["disk"]
    return answer
