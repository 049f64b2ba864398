"""`GET /v2/catalog/gpus[/{id}]`: the GPU types, with availability per CUDA version when asked for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.model import FakeGpuType, version
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router

__all__ = ["CatalogRoutes"]


class CatalogRoutes:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/catalog/gpus", self.gpus)
        router.add("GET", r"/v2/catalog/gpus/([^/]+)", self.gpu)

    def gpus(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, {"gpus": self._catalog(request.query, list(self.cloud.gpu_types))}

    def gpu(self, request: Request) -> tuple[int, Any]:
        gpu_id = unquote(request.groups[0])
        with self.cloud.lock:
            if gpu_id not in self.cloud.gpu_types:
                raise Problem(404, "gpu type not found")
            return 200, self._catalog(request.query, [gpu_id])[0]

    def _catalog(self, query: dict[str, list[str]], ids: list[str]) -> list[dict[str, Any]]:
        q = {k: v[-1] for k, v in query.items()}
        wants = q.get("include") == "AVAILABILITY"
        if "include" in q and not wants:
            raise Problem(422, "Request validation failed.", ["include: value must be 'AVAILABILITY'"])
        if wants != ("product" in q) or (not wants and {"count", "cloud", "minCudaVersion", "cudaVersions"} & set(q)):
            raise Problem(400, "product is required with include=AVAILABILITY, and filters are valid only with it")
        if "minCudaVersion" in q and "cudaVersions" in q:
            raise Problem(400, "cudaVersions and minCudaVersion are mutually exclusive")
        if "minCudaVersion" in q and not re.fullmatch(r"\d+(\.\d+)?", q["minCudaVersion"]):
            raise Problem(422, "Request validation failed.", ["minCudaVersion: expected major or major.minor"])
        return [self._gpu_json(self.cloud.gpu_types[i], q if wants else None) for i in ids]

    def _gpu_json(self, gpu: FakeGpuType, q: Mapping[str, str] | None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": gpu.id, "name": gpu.name, "pool": None, "manufacturer": "NVIDIA", "memory": gpu.memory_gb,
            "secure": True, "community": True,
            "price": {"secure": gpu.price_secure, "community": gpu.price_community},
            "maxCount": {"secure": gpu.max_count, "community": gpu.max_count},
        }
        if q is None:
            return item
        count, cloud = int(q.get("count", "1")), q.get("cloud", "SECURE")
        exact = set(q["cudaVersions"].split(",")) if "cudaVersions" in q else None
        floor = q.get("minCudaVersion")
        hosts = [h for h in self.cloud.hosts if h.gpu_type_id == gpu.id and h.cloud == cloud
                 and (exact is None or h.cuda_version in exact)
                 and (floor is None or version(h.cuda_version) >= version(floor))]
        free = sum(h.free_gpus // count for h in hosts if h.free_gpus >= count)
        item["availability"] = "NONE" if free == 0 else "LOW" if free < 3 else "MEDIUM" if free < 8 else "HIGH"
        versions = sorted({h.cuda_version for h in hosts}, key=version, reverse=True)
        item["cudaVersions"] = [{"version": v, "available": any(h.free_gpus >= count for h in hosts
                                                                 if h.cuda_version == v)} for v in versions]
        item["dataCenters"] = sorted({h.data_center_id for h in hosts})
        return item
