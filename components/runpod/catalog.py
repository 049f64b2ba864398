"""`client.catalog`: `/v2/catalog/gpus`, what RunPod offers now, per GPU type: list prices per cloud and for
serverless pools, availability overall, per data center and per CUDA version; `/v2/catalog/datacenters`, which
data centers offer which network volume tiers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.runpod.transport import Transport

__all__ = ["AVAILABILITY_LEVELS", "CatalogClient", "GpuOffer"]

# RunPod documents no numbers behind the levels; its own sample ranks them and treats NONE as unusable.
AVAILABILITY_LEVELS = ("NONE", "LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class GpuOffer:
    """One `GpuType` of the catalog, normalised. Prices are list USD per hour for ONE GPU; availability
    fields are those of the product, cloud, count and CUDA floor the catalog was asked for."""

    id: str
    name: str
    memory_gb: int
    pool: str | None = None  # the serverless pool holding this type, None when in none
    secure: bool = True
    community: bool = True
    price_secure: float = 0.0
    price_community: float = 0.0
    price_serverless: float | None = None  # absent when the type is in no serverless pool open to the caller
    availability: str = "NONE"
    data_centers: tuple[tuple[str, str], ...] = ()  # (data center id, availability)
    cuda_versions: tuple[tuple[str, bool], ...] = ()  # (major.minor, free capacity now)

    @classmethod
    def from_api(cls, gpu: Mapping[str, Any]) -> GpuOffer:
        price = gpu.get("price") or {}
        serverless = price.get("serverless")
        return cls(
            id=str(gpu["id"]), name=str(gpu.get("name", gpu["id"])), memory_gb=int(gpu.get("memory") or 0),
            pool=gpu.get("pool"), secure=bool(gpu.get("secure", True)), community=bool(gpu.get("community", True)),
            price_secure=float(price.get("secure") or 0.0), price_community=float(price.get("community") or 0.0),
            price_serverless=None if serverless is None else float(serverless),
            availability=str(gpu.get("availability") or "NONE"),
            data_centers=tuple((str(dc["id"]), str(dc.get("availability") or "NONE"))
                               for dc in gpu.get("dataCenters") or ()),
            # A missing `cudaVersions` means the same as an empty one (the spec says so for AMD types).
            cuda_versions=tuple((str(v["version"]), bool(v.get("available"))) for v in gpu.get("cudaVersions") or ()),
        )

    def offered_in(self, cloud: str) -> bool:
        return self.secure if cloud == "SECURE" else self.community

    def pod_price(self, cloud: str) -> float:
        """List USD per hour for one GPU of this type as a pod in `cloud`."""
        return self.price_secure if cloud == "SECURE" else self.price_community

    def available_now(self) -> bool:
        """Free capacity now on a machine whose CUDA the query allowed (the catalog's `available` flags)."""
        return self.availability != "NONE" and any(free for _, free in self.cuda_versions)

    def free_data_centers(self) -> tuple[str, ...]:
        return tuple(dc for dc, level in self.data_centers if level != "NONE")


@dataclass
class CatalogClient:
    transport: Transport

    def gpus(self, *, product: str = "POD", count: int = 1, cloud: str = "SECURE",
             min_cuda_version: str | None = None) -> list[dict[str, Any]]:
        """GET /v2/catalog/gpus with current availability for `product` (POD or SERVERLESS), per GPU type
        and per CUDA version, as RunPod sends it."""
        params = {"include": "AVAILABILITY", "product": product, "count": str(count), "cloud": cloud}
        if min_cuda_version:
            params["minCudaVersion"] = min_cuda_version
        return list(self.transport.request("GET", "/v2/catalog/gpus", params=params).get("gpus", []))

    def offers(self, *, product: str = "POD", count: int = 1, cloud: str = "SECURE",
               min_cuda_version: str | None = None) -> list[GpuOffer]:
        """`gpus()`, normalised."""
        return [GpuOffer.from_api(g) for g in self.gpus(product=product, count=count, cloud=cloud,
                                                         min_cuda_version=min_cuda_version)]

    def data_centers(self, *, network_volume_type: str | None = None) -> list[str]:
        """GET /v2/catalog/datacenters: the ids of RunPod's data centers (those offering `network_volume_type`,
        STANDARD or HIGH_PERFORMANCE, when given)."""
        params = {"networkVolumeTypes": network_volume_type} if network_volume_type else None
        body = self.transport.request("GET", "/v2/catalog/datacenters", params=params)
        return [str(dc["id"]) for dc in body.get("dataCenters", [])]
