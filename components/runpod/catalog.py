"""`client.catalog`: `/v2/catalog/gpus`, what RunPod offers now, per GPU type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.runpod.transport import Transport

__all__ = ["CatalogClient"]


@dataclass
class CatalogClient:
    transport: Transport

    def gpus(self, *, product: str = "POD", count: int = 1, cloud: str = "SECURE",
             min_cuda_version: str | None = None) -> list[dict[str, Any]]:
        """GET /v2/catalog/gpus with current availability for `product` (POD or SERVERLESS), per GPU type
        and per CUDA version."""
        params = {"include": "AVAILABILITY", "product": product, "count": str(count), "cloud": cloud}
        if min_cuda_version:
            params["minCudaVersion"] = min_cuda_version
        return list(self.transport.request("GET", "/v2/catalog/gpus", params=params).get("gpus", []))
