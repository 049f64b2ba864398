"""A serverless endpoint's inputs, declared once (`EndpointSpec` and its `ENDPOINT_INPUTS` schema), and the
`CreateEndpointRequest` / `UpdateEndpointRequest` bodies built from them. No I/O.

The GPU choice is RunPod's serverless pools (the catalog's `pool` of each GPU type wanted) with `excludedTypes`
for the other cards of those pools, and the image's CUDA floor as `gpu.minCudaVersion`. Every scaling field is
sent explicitly, FlashBoot included: the API's defaults (3 workers, 10 s idle, FlashBoot off) are not the
console's. Only the routing `type` needs a new endpoint (the update schema has no `type`; the compute family, GPU
here, cannot change either); everything else is a PATCH.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.names import setting
from components.providers.checks import (
    at_least,
    check_args,
    check_cuda,
    check_env,
    check_ids,
    check_image,
    check_name,
    check_one_of,
    check_optional_text,
    check_ports,
    check_positive_int,
    env_map,
)
from components.providers.schema import Schema, is_unknown, spec_field
from components.setting_rules import BOUNDS

__all__ = ["ENDPOINT_INPUTS", "ENDPOINT_TYPES", "FLASHBOOT_MODES", "VOLUME_MOUNT_PATH", "EndpointSpec"]

ENDPOINT_TYPES = ("LOAD_BALANCER", "QUEUE")
FLASHBOOT_MODES = ("OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT")
VOLUME_MOUNT_PATH = "/runpod-volume"  # where RunPod mounts a serverless worker's network volume (not settable)
# RunPod's load balancer cuts a request after 5.5 minutes; the endpoint's own limit matches it.
REQUEST_TIMEOUT_MS = 330_000
_GPU_TYPES = setting("gpuTypes")


_POOLS = check_ids("serverless pool ids", '["ADA_48_PRO"]', distinct=True, non_empty=True)
_EXCLUDED = check_ids("GPU type ids", '["NVIDIA L4"]', distinct=True)


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in value or ())


@dataclass(frozen=True)
class EndpointSpec:
    """An endpoint's checked inputs, typed. The field names are the resource's input keys (kept in state)."""

    name: str = spec_field(check_name, convert=str)
    image: str = spec_field(check_image, convert=str, setting=f"{setting('image')}, imageRepository or promoteFrom")
    pools: tuple[str, ...] = spec_field(_POOLS, convert=_ids, setting=_GPU_TYPES)
    min_cuda_version: str = spec_field(check_cuda, convert=str,
                                       setting=f"the CUDA floor of the vLLM image, from {setting('vllmVersion')}")
    type: str = spec_field(check_one_of(*ENDPOINT_TYPES), convert=str, replaces=True, default="LOAD_BALANCER")
    excluded_types: tuple[str, ...] = spec_field(_EXCLUDED, convert=_ids, setting=_GPU_TYPES, default=())
    gpu_count: int = spec_field(check_positive_int, convert=int, setting=setting("gpuCount"), default=1)
    container_disk_gb: int = spec_field(check_positive_int, convert=int, setting=setting("containerDiskGb"),
                                        default=80)
    ports: tuple[str, ...] = spec_field(check_ports, convert=tuple, default=("8000/http",))
    env: Mapping[str, str] = spec_field(check_env, convert=env_map, default_factory=dict, secret=True)
    args: str | None = spec_field(check_args, convert=str, default=None)
    network_volume_id: str | None = spec_field(check_optional_text, convert=str, setting=setting("networkVolumeId"),
                                               default=None)
    registry_auth_id: str | None = spec_field(check_optional_text, convert=str, setting=setting("registryAuthId"),
                                              default=None)
    workers_min: int = spec_field(at_least(0), convert=int, setting=setting("workersMin"), default=0)
    workers_max: int = spec_field(check_positive_int, convert=int, setting=setting("workersMax"), default=2)
    idle_timeout_s: int = spec_field(at_least(*BOUNDS["idleTimeoutSeconds"]), convert=int,
                                     setting=setting("idleTimeoutSeconds"), default=300)
    request_count: int = spec_field(check_positive_int, convert=int, setting=setting("requestsPerWorker"), default=4)
    flashboot: str = spec_field(check_one_of(*FLASHBOOT_MODES), convert=str, setting=setting("flashboot"),
                                default="FLASHBOOT")
    timeout_ms: int = spec_field(check_positive_int, convert=int, default=REQUEST_TIMEOUT_MS)

    def create_body(self) -> dict[str, Any]:
        """A `CreateEndpointRequest`: every field this stack decides, none left to the API's defaults."""
        body: dict[str, Any] = {
            "name": self.name, "type": self.type, "image": self.image, "ports": list(self.ports),
            "env": dict(self.env), "disk": self.container_disk_gb, "gpu": self.gpu_body(),
            "workers": self.workers_body(), "scaling": self.scaling_body(), "flashboot": self.flashboot,
            "timeout": self.timeout_ms, "networkVolumes": self.volumes(),
        }
        if self.args:
            body["args"] = self.args
        if self.registry_auth_id:
            body["registry"] = self.registry_auth_id
        return body

    def gpu_body(self) -> dict[str, Any]:
        gpu: dict[str, Any] = {"pools": list(self.pools), "count": self.gpu_count,
                               "minCudaVersion": self.min_cuda_version}
        if self.excluded_types:
            gpu["excludedTypes"] = list(self.excluded_types)
        return gpu

    def workers_body(self) -> dict[str, Any]:
        workers = {"min": self.workers_min, "max": self.workers_max, "idleTimeout": self.idle_timeout_s}
        if self.type == "QUEUE":  # RunPod refuses idleTimeout on a queue endpoint that scales on request count
            del workers["idleTimeout"]
        return workers

    def scaling_body(self) -> dict[str, Any]:
        return {"type": "REQUEST_COUNT", "requestCount": self.request_count}

    def volumes(self) -> list[str]:
        return [self.network_volume_id] if self.network_volume_id else []

    def patch_body(self, old: EndpointSpec) -> dict[str, Any]:
        """An `UpdateEndpointRequest` with what changed. `pools` always goes with `excludedTypes` (a PATCH with
        pools alone clears the exclusions, which is what an empty list means here)."""
        body: dict[str, Any] = {}
        for key, new, was in (("name", self.name, old.name), ("image", self.image, old.image),
                              ("ports", list(self.ports), list(old.ports)), ("env", dict(self.env), dict(old.env)),
                              ("disk", self.container_disk_gb, old.container_disk_gb),
                              ("args", self.args or "", old.args or ""),
                              ("registry", self.registry_auth_id, old.registry_auth_id),
                              ("workers", self.workers_body(), old.workers_body()),
                              ("scaling", self.scaling_body(), old.scaling_body()),
                              ("flashboot", self.flashboot, old.flashboot),
                              ("timeout", self.timeout_ms, old.timeout_ms),
                              ("networkVolumes", self.volumes(), old.volumes())):
            if new != was:
                body[key] = new
        gpu = {k: v for k, v in self.gpu_body().items() if v != old.gpu_body().get(k)}
        if "pools" in gpu or "excludedTypes" in gpu or (old.excluded_types and not self.excluded_types):
            gpu["pools"] = list(self.pools)
            gpu.pop("excludedTypes", None)
            if self.excluded_types:
                gpu["excludedTypes"] = list(self.excluded_types)
        if gpu:
            body["gpu"] = gpu
        return body

    def describe(self) -> str:
        return f"endpoint {self.name!r}"


def _check_workers(inputs: Mapping[str, Any]) -> str | None:
    low, high = inputs.get("workers_min"), inputs.get("workers_max")
    if is_unknown(low) or is_unknown(high) or not isinstance(low, int | float) or not isinstance(high, int | float):
        return None
    if low > high:
        return (f"is {low:g}, above {ENDPOINT_INPUTS.named('workers_max')} {high:g}: RunPod keeps the minimum "
                "running and cannot run more than the maximum")
    return None


ENDPOINT_INPUTS: Schema[EndpointSpec] = Schema(EndpointSpec, cross_checks={"workers_min": _check_workers})
