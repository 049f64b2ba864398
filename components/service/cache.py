"""The model cache: the network volume the stack manages for the weights and vLLM's compile cache
(`modelCacheGb`), where whatever serves the model mounts it, and what it exports.

The volume is its own resource, not the pod's: a pod (or a serverless endpoint) takes it as an input, is pinned
to its data center and mounts it at `/runpod-volume`, where RunPod mounts volumes into serverless workers, so
one layout on the volume (`hf/`, `vllm/`, `.autoglm/`) serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.names import resource_name
from components.providers.endpoint_inputs import VOLUME_MOUNT_PATH
from components.providers.volume import Volume, VolumeArgs
from components.service.images import ImageChoice
from components.settings import Settings

__all__ = ["CACHE_MOUNT_PATH", "ModelCache", "model_cache"]

# Where RunPod mounts a serverless worker's volume (fixed): pods mount the managed cache there too.
CACHE_MOUNT_PATH = VOLUME_MOUNT_PATH


@dataclass(frozen=True)
class ModelCache:
    volume: Volume

    @property
    def data_center_ids(self) -> pulumi.Output[list[str]]:
        """Where its users must run (known once the volume exists)."""
        return self.volume.data_center_id.apply(lambda dc: [dc] if dc else [])

    def exports(self) -> dict[str, Any]:
        return {"model_cache_volume_id": self.volume.volume_id,
                "model_cache_data_center": self.volume.data_center_id,
                "model_cache_monthly_usd": self.volume.monthly_price_usd}


def model_cache(name: str, s: Settings, image: ImageChoice, parent: pulumi.Resource,
                products: Sequence[str] = ("POD",), gpu_type_ids: Sequence[str] | None = None) -> ModelCache | None:
    """The managed volume when `modelCacheGb` is set. Its data center is chosen at its create where the GPU types
    of `products` (POD, SERVERLESS) are free at the image's CUDA floor: `gpu_type_ids` when given (a serverless
    endpoint's pool plan, auto and the budget already applied: its workers can only run where the volume is),
    else `gpuTypes`."""
    cache = s.model_cache
    if cache is None:
        return None
    volume = Volume(f"{name}-model-cache", VolumeArgs(
        name=resource_name(s.stack, f"{name}-model-cache"),
        size_gb=cache.size_gb,
        volume_type=cache.volume_type,
        data_center_id=cache.data_center,
        gpu_type_ids=list(s.gpu_types if gpu_type_ids is None else gpu_type_ids),
        auto_gpu_type_ids=list(s.auto_gpu_types if gpu_type_ids is None else ()),
        gpu_count=s.gpu_count,
        min_cuda_version=image.facts.cuda_floor,
        max_cost_per_hour=s.max_cost_per_hour,
        products=list(products),
    ), pulumi.ResourceOptions(parent=parent, retain_on_delete=cache.retain))
    if cache.retain:
        volume.volume_id.apply(lambda volume_id: pulumi.log.info(
            f"model cache volume {volume_id}: retainModelCache is true, so `pulumi destroy` keeps it (and its "
            "billing). Reuse it: a later `pulumi up` of this stack with modelCacheGb adopts it by name; another stack "
            f"can set networkVolumeId {volume_id}. Delete it in RunPod's console (Storage) when done."))
    return ModelCache(volume)
