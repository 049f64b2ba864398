"""The typed, immutable settings one stack deploys with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components import compat
from components.settings.cache import ModelCacheSettings
from components.settings.serverless import Deployment, Serverless

__all__ = ["Cloud", "Secrets", "Settings"]

Cloud = Literal["SECURE", "COMMUNITY"]


@dataclass(frozen=True)
class Settings:
    stack: str
    gpu_types: tuple[str, ...]  # RunPod GPU type ids, aliases resolved, in order of preference
    gpu_count: int
    cloud: Cloud
    vllm_version: str
    model: str
    served_model_name: str
    max_model_len: int
    container_disk_gb: int
    network_volume_id: str | None
    image_repository: str | None
    image: str | None
    registry_auth_id: str | None
    health_timeout_minutes: int
    max_cost_per_hour: float | None
    promote_from: str | None
    runpod_api_url: str
    public_endpoint: bool
    running: bool
    deployment: Deployment  # "pod" (one GPU pod) or "serverless" (a RunPod Serverless endpoint)
    serverless: Serverless  # its scaling keys, read for every stack, used with deployment serverless
    model_cache: ModelCacheSettings | None = None  # the volume the stack manages for the weights (modelCacheGb)

    @property
    def auto_gpu_types(self) -> tuple[str, ...]:
        """With `auto` in gpuTypes, the GPU types it may choose (the compatibility rules' verdict); else ()."""
        if compat.AUTO not in self.gpu_types:
            return ()
        return compat.auto_gpu_types(self.vllm_version, self.gpu_count, self.model, self.max_model_len)

    @property
    def has_volume(self) -> bool:
        """Whether a network volume holds the weights (the managed cache, or networkVolumeId)."""
        return bool(self.network_volume_id or self.model_cache)

    @property
    def cuda_floor(self) -> compat.CudaFloor:
        """The release table's floor (what preview shows); `up` reads the image's own (ImageFacts)."""
        return compat.cuda_floor(self.vllm_version)

    @property
    def base_image(self) -> str:
        return f"vllm/vllm-openai:v{self.vllm_version}"

    @property
    def image_source(self) -> Literal["build", "given", "promoted"]:
        if self.promote_from:
            return "promoted"
        return "given" if self.image else "build"


@dataclass(frozen=True)
class Secrets:
    """Secret settings as secret Outputs (None when unset). The providers read the RunPod key themselves; the
    program keeps it (`runpod_api_key`, config first, else RUNPOD_API_KEY) for read-only catalog calls, and for
    a serverless stack's client command, as a secret output: there it is the key clients send."""

    hf_token: pulumi.Output[str] | None
    vllm_api_key: pulumi.Output[str] | None
    runpod_api_key: str | None = field(default=None, repr=False)
    runpod_api_url: str | None = None  # for those calls: config, else RUNPOD_API_URL, else None (RunPod's URL)
