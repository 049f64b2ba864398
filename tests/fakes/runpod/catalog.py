"""`GET /v2/catalog/gpus[/{id}]` and `GET /v2/catalog/datacenters[/{id}]`, as the published contract has them.

With `include=AVAILABILITY` (which needs `product`, and which every other filter needs), a GPU type carries
its availability for the product, cloud, GPU count and CUDA constraint asked for: overall, per data center
(objects `{id, name, availability}`, omitted when unavailable everywhere) and per CUDA version. Availability
comes from the hosts' free GPUs (a unit is `count` GPUs on one host): NONE for none, LOW below 3 units,
MEDIUM below 8, HIGH from 8. Serverless uses the same machines (Secure Cloud) and only types in a pool;
`price.serverless` is the pool's list price, absent for types in no pool. The query rules answer 400/422 as
the contract says (`product` required with and only with AVAILABILITY; `minCudaVersion` vs `cudaVersions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.model import FakeGpuType, FakeHost, version
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router

__all__ = ["CatalogRoutes", "availability_level"]

PRODUCTS = ("POD", "CLUSTER", "SERVERLESS")
_LEVELS = ("NONE", "LOW", "MEDIUM", "HIGH")
_CUDA_PARAM = re.compile(r"\d+(\.\d+)?")
_EXACT_CUDA = re.compile(r"\d+\.\d+")


def availability_level(units: int) -> str:
    return "NONE" if units <= 0 else "LOW" if units < 3 else "MEDIUM" if units < 8 else "HIGH"


class CatalogRoutes:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/catalog/gpus", self.gpus)
        router.add("GET", r"/v2/catalog/gpus/([^/]+)", self.gpu)
        router.add("GET", r"/v2/catalog/datacenters", self.data_centers)
        router.add("GET", r"/v2/catalog/datacenters/([^/]+)", self.data_center)

    # ---- GPU types -------------------------------------------------------------------------------------------

    def gpus(self, request: Request) -> tuple[int, Any]:
        query = _gpu_query(request.query)
        with self.cloud.lock:
            return 200, {"gpus": [self._gpu_json(g, query) for g in self.cloud.gpu_types.values()]}

    def gpu(self, request: Request) -> tuple[int, Any]:
        gpu_id = unquote(request.groups[0])
        query = _gpu_query(request.query)
        with self.cloud.lock:
            if gpu_id not in self.cloud.gpu_types:
                raise Problem(404, "gpu type not found")
            return 200, self._gpu_json(self.cloud.gpu_types[gpu_id], query)

    def _gpu_json(self, gpu: FakeGpuType, q: Mapping[str, str] | None) -> dict[str, Any]:
        price: dict[str, float] = {"secure": gpu.price_secure, "community": gpu.price_community}
        if gpu.price_serverless is not None:
            price["serverless"] = gpu.price_serverless
        item: dict[str, Any] = {
            "id": gpu.id, "name": gpu.name, "pool": gpu.pool, "manufacturer": "NVIDIA", "memory": gpu.memory_gb,
            "secure": gpu.secure, "community": gpu.community, "price": price,
            "maxCount": {"secure": gpu.max_count, "community": gpu.max_count},
        }
        if q is None:
            return item
        hosts = self._hosts(gpu, q)
        count = int(q.get("count", "1"))
        units = {h.data_center_id: 0 for h in hosts}
        for h in hosts:
            units[h.data_center_id] += h.free_gpus // count
        item["availability"] = availability_level(sum(units.values()))
        dcs = [{"id": dc, "name": self._dc_name(dc), "availability": availability_level(n)}
               for dc, n in sorted(units.items())]
        if any(dc["availability"] != "NONE" for dc in dcs):
            item["dataCenters"] = dcs
        versions = sorted({h.cuda_version for h in hosts}, key=version, reverse=True)
        item["cudaVersions"] = [{"version": v, "available": any(h.free_gpus >= count for h in hosts
                                                                 if h.cuda_version == v)} for v in versions]
        return item

    def _hosts(self, gpu: FakeGpuType, q: Mapping[str, str]) -> list[FakeHost]:
        """The machines that fit the query's product, cloud and CUDA constraint."""
        products = q["product"].split(",")
        serverless_only = products == ["SERVERLESS"]
        if serverless_only and gpu.pool is None:
            return []
        cloud = "SECURE" if serverless_only else q.get("cloud", "SECURE")
        exact = set(q["cudaVersions"].split(",")) if "cudaVersions" in q else None
        floor = q.get("minCudaVersion")
        return [h for h in self.cloud.hosts if h.gpu_type_id == gpu.id and h.cloud == cloud
                and (exact is None or h.cuda_version in exact)
                and (floor is None or version(h.cuda_version) >= version(floor))]

    def _dc_name(self, dc_id: str) -> str:
        dc = self.cloud.data_centers.get(dc_id)
        return dc.name if dc else dc_id

    # ---- data centers ----------------------------------------------------------------------------------------

    def data_centers(self, request: Request) -> tuple[int, Any]:
        q = {k: v[-1] for k, v in request.query.items()}
        wanted_types = set(q["networkVolumeTypes"].split(",")) if q.get("networkVolumeTypes") else set()
        regions = set(q["regions"].split(",")) if q.get("regions") else set()
        with self.cloud.lock:
            found = [dc for dc in self.cloud.data_centers.values()
                     if wanted_types <= set(dc.volume_types) and (not regions or dc.region in regions)]
            return 200, {"dataCenters": [self._dc_json(dc.id, q) for dc in found]}

    def data_center(self, request: Request) -> tuple[int, Any]:
        dc_id = unquote(request.groups[0])
        with self.cloud.lock:
            if dc_id not in self.cloud.data_centers:
                raise Problem(404, "data center not found")
            return 200, self._dc_json(dc_id, {k: v[-1] for k, v in request.query.items()})

    def _dc_json(self, dc_id: str, q: Mapping[str, str]) -> dict[str, Any]:
        dc = self.cloud.data_centers[dc_id]
        item: dict[str, Any] = {"id": dc.id, "name": dc.name, "region": dc.region, "globalNetwork": False,
                                "networkVolumeTypes": list(dc.volume_types), "compliance": []}
        if "GPU_AVAILABILITY" in q.get("include", ""):
            free: dict[str, int] = {}
            for h in self.cloud.hosts:
                if h.data_center_id == dc_id:
                    free[h.gpu_type_id] = free.get(h.gpu_type_id, 0) + h.free_gpus
            item["gpuAvailability"] = [{"id": g, "name": self.cloud.gpu_types[g].name,
                                        "availability": availability_level(n)} for g, n in sorted(free.items())]
        return item


def _gpu_query(query: Mapping[str, list[str]]) -> dict[str, str] | None:
    """The query's parameters, checked as the contract says; None without include=AVAILABILITY."""
    q = {k: v[-1] for k, v in query.items()}
    wants = "include" in q
    if wants and q["include"] != "AVAILABILITY":
        raise Problem(422, "Request validation failed.", ["include: value must be 'AVAILABILITY'"])
    filters = {"product", "count", "cloud", "countryCodes", "minCudaVersion", "cudaVersions"} & set(q)
    if wants != ("product" in q) or (not wants and filters):
        raise Problem(400, "product is required with include=AVAILABILITY, and filters are valid only with it")
    if not wants:
        return None
    if not all(p in PRODUCTS for p in q["product"].split(",")):
        raise Problem(422, "Request validation failed.", [f"product: each value must be one of {', '.join(PRODUCTS)}"])
    if q.get("cloud", "SECURE") not in ("SECURE", "COMMUNITY"):
        raise Problem(422, "Request validation failed.", ["cloud: value must be one of 'SECURE', 'COMMUNITY'"])
    if not q.get("count", "1").isdigit() or int(q.get("count", "1")) < 1:
        raise Problem(422, "Request validation failed.", ["count: expected integer >= 1"])
    if "minCudaVersion" in q and "cudaVersions" in q:
        raise Problem(400, "cudaVersions and minCudaVersion are mutually exclusive")
    if "minCudaVersion" in q and not _CUDA_PARAM.fullmatch(q["minCudaVersion"]):
        raise Problem(422, "Request validation failed.", ["minCudaVersion: expected major or major.minor"])
    if "cudaVersions" in q and not all(_EXACT_CUDA.fullmatch(v) for v in q["cudaVersions"].split(",")):
        raise Problem(422, "Request validation failed.", ["cudaVersions: expected major.minor values"])
    return q
