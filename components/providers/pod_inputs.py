"""A pod's inputs, declared once (`PodSpec` and its `POD_INPUTS` schema), and the request bodies built from them.

No I/O. Each field states its type, default, check, the stack setting behind it (messages name what a user
changes) and whether changing it needs a new pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.compat import AUTO, network_volume_problem
from components.names import provisional_name, setting
from components.providers.checks import check_args as _check_args
from components.providers.checks import check_cuda as _check_cuda
from components.providers.checks import check_env as _check_env
from components.providers.checks import check_ids, check_one_of
from components.providers.checks import check_image as _check_image
from components.providers.checks import check_max_cost as _check_max_cost
from components.providers.checks import check_name as _check_name
from components.providers.checks import check_optional_text as _check_optional_text
from components.providers.checks import check_ports as _check_ports
from components.providers.checks import check_positive_int as _check_positive_int
from components.providers.checks import env_map as _env
from components.providers.schema import Schema, is_unknown, spec_field

__all__ = ["POD_INPUTS", "PodSpec", "proxy_url"]


def _check_gpu_types(v: Any) -> str | None:
    if (not isinstance(v, list | tuple) or not v or not all(isinstance(g, str) and g.strip() for g in v)
            or len(set(v)) != len(v)):
        return 'must list one or more distinct RunPod GPU type ids in order of preference, e.g. ["NVIDIA L40S"]'
    if AUTO in v[:-1]:
        return f"may hold {AUTO} only as its last entry (it adds every other type that fits, cheapest first)"
    return None


_check_gpu_ids = check_ids("RunPod GPU type ids", '["NVIDIA L40S"]', refused=AUTO)


_check_data_centers = check_ids("RunPod data center ids", '["EU-RO-1"]')
_check_cloud = check_one_of("SECURE", "COMMUNITY")


def _check_mount_path(v: Any) -> str | None:
    return None if isinstance(v, str) and v.startswith("/") else 'must be an absolute path, e.g. "/workspace"'


def _check_running(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


@dataclass(frozen=True)
class PodSpec:
    """A pod's checked inputs, typed. The field names are the resource's input keys (kept in users' state)."""

    name: str = spec_field(_check_name, convert=str)
    image: str = spec_field(_check_image, convert=str, replaces=True,
                            setting=f"{setting('image')}, imageRepository or promoteFrom")
    gpu_type_ids: tuple[str, ...] = spec_field(_check_gpu_types, convert=tuple, setting=setting("gpuTypes"))
    min_cuda_version: str = spec_field(_check_cuda, convert=str,
                                       setting="the CUDA floor the image's config declares in NVIDIA_REQUIRE_CUDA")
    # With `auto` last in gpu_type_ids: the types the compatibility rules let through, which the live catalog
    # then ranks at create (components.providers.pod_plan). Empty otherwise.
    auto_gpu_type_ids: tuple[str, ...] = spec_field(_check_gpu_ids, convert=tuple, default=(),
                                                    setting=f"the GPU types that fit, from {setting('vllmVersion')}, "
                                                            f"{setting('maxModelLen')} and {setting('gpuCount')}")
    gpu_count: int = spec_field(_check_positive_int, convert=int, setting=setting("gpuCount"), replaces=True,
                                default=1)
    cloud: str = spec_field(_check_cloud, convert=str, setting=setting("cloud"), replaces=True, default="SECURE")
    container_disk_gb: int = spec_field(_check_positive_int, convert=int, setting=setting("containerDiskGb"),
                                        replaces=True, default=80)
    ports: tuple[str, ...] = spec_field(_check_ports, convert=tuple, default=("8000/http",))
    env: Mapping[str, str] = spec_field(_check_env, convert=_env, default_factory=dict, secret=True)
    args: str | None = spec_field(_check_args, convert=str, default=None)  # passed to the image's ENTRYPOINT
    network_volume_id: str | None = spec_field(_check_optional_text, convert=str, replaces=True,
                                               setting=setting("networkVolumeId"), default=None)
    volume_mount_path: str = spec_field(_check_mount_path, convert=str, default="/workspace")
    registry_auth_id: str | None = spec_field(_check_optional_text, convert=str, setting=setting("registryAuthId"),
                                              default=None)
    max_cost_per_hour: float | None = spec_field(_check_max_cost, convert=float, setting=setting("maxCostPerHour"),
                                                 default=None)
    ready_timeout_s: int = spec_field(_check_positive_int, convert=int, default=1200,
                                      setting=f"{setting('healthTimeoutMinutes')} × 60")
    running: bool = spec_field(_check_running, convert=bool, setting=setting("running"), default=True)
    # Where the pod may be placed (the model cache volume's data center); empty: anywhere.
    data_center_ids: tuple[str, ...] = spec_field(_check_data_centers, convert=tuple, default=(),
                                                  setting=f"the data center of the model cache volume "
                                                          f"({setting('modelCacheDataCenter')})")

    @property
    def creating_name(self) -> str:
        """The pod's name until its create succeeded (components.names): then it takes `name`."""
        return provisional_name(self.name)

    def create_body(self, gpu_type_id: str) -> dict[str, Any]:
        """A `CreatePodRequest` for one GPU type, under the provisional name; the CUDA floor rides on every
        create."""
        body: dict[str, Any] = {
            "name": self.creating_name, "image": self.image, "cloud": self.cloud, "disk": self.container_disk_gb,
            "ports": list(self.ports), "env": dict(self.env),
            "gpu": {"id": gpu_type_id, "count": self.gpu_count, "minCudaVersion": self.min_cuda_version},
        }
        if self.args:
            body["args"] = self.args
        if self.registry_auth_id:
            body["registry"] = self.registry_auth_id
        if self.network_volume_id:
            body["mounts"] = self.mounts()
        if self.data_center_ids:
            body["dataCenterIds"] = list(self.data_center_ids)
        return body

    def mounts(self) -> dict[str, Any]:
        return {"network": [{"volumeId": self.network_volume_id, "path": self.volume_mount_path}]}

    def patch_body(self, old: PodSpec) -> dict[str, Any]:
        """An `UpdatePodRequest` with what changed among the fields v2 lets a pod change in place."""
        body: dict[str, Any] = {}
        if self.name != old.name:
            body["name"] = self.name
        if self.env != old.env:
            body["env"] = dict(self.env)  # a PATCH replaces the whole env set
        if (self.args or "") != (old.args or ""):
            body["args"] = self.args or ""
        if self.ports != old.ports:
            body["ports"] = list(self.ports)
        if self.registry_auth_id != old.registry_auth_id:
            body["registry"] = self.registry_auth_id
        if self.network_volume_id and self.volume_mount_path != old.volume_mount_path:
            body["mounts"] = self.mounts()
        return body

    def describe(self) -> str:
        return f"pod {self.name!r}"


def _check_volume_cloud(inputs: Mapping[str, Any]) -> str | None:
    if not inputs.get("network_volume_id") or is_unknown(inputs.get("cloud")):
        return None
    problem = network_volume_problem(str(inputs.get("cloud")))
    return f"needs {POD_INPUTS.named('cloud')} SECURE: {problem}" if problem else None


def _check_auto_choices(inputs: Mapping[str, Any]) -> str | None:
    listed, auto = inputs.get("gpu_type_ids"), inputs.get("auto_gpu_type_ids")
    if is_unknown(listed) or is_unknown(auto) or AUTO not in (listed or []) or auto:
        return None
    return (f"is empty while {POD_INPUTS.named('gpu_type_ids')} ends with {AUTO}: list the GPU types {AUTO} may "
            "choose from (components.compat.auto_gpu_types)")


POD_INPUTS: Schema[PodSpec] = Schema(PodSpec, cross_checks={"network_volume_id": _check_volume_cloud,
                                                            "auto_gpu_type_ids": _check_auto_choices})


def proxy_url(pod_id: str, ports: tuple[str, ...] | list[str]) -> str:
    """RunPod's HTTPS proxy for the first HTTP port (`https://{pod}-{port}.proxy.runpod.net`)."""
    port = next((p.split("/")[0] for p in ports if p.endswith("/http")), "8000")
    return f"https://{pod_id}-{port}.proxy.runpod.net"
