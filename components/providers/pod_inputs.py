"""A pod's inputs, declared once (`PodSpec` and its `POD_INPUTS` schema), and the request bodies built from them.

No I/O. Each field states its type, default, check, the stack setting behind it (messages name what a user
changes) and whether changing it needs a new pod.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.compat import AUTO, network_volume_problem
from components.names import MAX_NAME, provisional_name, setting
from components.providers.schema import Schema, is_unknown, spec_field

__all__ = ["POD_INPUTS", "PodSpec", "env_secrets", "proxy_url"]

_CUDA = re.compile(r"^\d+\.\d+$")
_PORT = re.compile(r"^(\d{1,5})/(http|tcp)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def _check_name(v: Any) -> str | None:
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_NAME:
        return f"must be 1–{MAX_NAME} characters (RunPod's limit); use components.names.resource_name"
    return None


def _check_image(v: Any) -> str | None:
    if not isinstance(v, str) or not v or any(c.isspace() for c in v):
        return "must be an image reference without spaces, e.g. docker.io/vllm/vllm-openai:v0.11.0"
    return None


def _check_gpu_types(v: Any) -> str | None:
    if (not isinstance(v, list | tuple) or not v or not all(isinstance(g, str) and g.strip() for g in v)
            or len(set(v)) != len(v)):
        return 'must list one or more distinct RunPod GPU type ids in order of preference, e.g. ["NVIDIA L40S"]'
    if AUTO in v[:-1]:
        return f"may hold {AUTO} only as its last entry (it adds every other type that fits, cheapest first)"
    return None


def _check_gpu_ids(v: Any) -> str | None:
    if not isinstance(v, list | tuple) or not all(isinstance(g, str) and g.strip() and g != AUTO for g in v):
        return 'must list RunPod GPU type ids, e.g. ["NVIDIA L40S"]'
    return None


def _check_data_centers(v: Any) -> str | None:
    if not isinstance(v, list | tuple) or not all(isinstance(d, str) and d.strip() for d in v):
        return 'must list RunPod data center ids, e.g. ["EU-RO-1"]'
    return None


def _check_positive_int(v: Any) -> str | None:
    return None if _is_int(v) and v >= 1 else "must be a whole number ≥ 1"


def _check_cloud(v: Any) -> str | None:
    return None if v in ("SECURE", "COMMUNITY") else "must be SECURE or COMMUNITY"


def _check_cuda(v: Any) -> str | None:
    if not isinstance(v, str) or not _CUDA.match(v):
        return 'must be a CUDA version as major.minor, e.g. "12.9"'
    return None


def _check_ports(v: Any) -> str | None:
    if not isinstance(v, list | tuple) or not v:
        return 'must list ports as "port/proto", e.g. ["8000/http"]'
    for port in v:
        m = _PORT.match(port) if isinstance(port, str) else None
        if m is None or not 1 <= int(m.group(1)) <= 65535:
            return f'has {port!r}: each port must be "port/http" or "port/tcp" with port 1–65535'
    if len(set(v)) != len(v):
        return "lists a port twice"
    if not any(p.endswith("/http") for p in v):
        return 'needs an HTTP port for the endpoint URL, e.g. "8000/http"'
    return None


def _check_env(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be a map of variable names to strings"
    for key, value in v.items():
        if not _ENV_NAME.match(key):
            return f"has {key!r}: variable names are letters, digits and _, not starting with a digit"
        if not (isinstance(value, str) or is_unknown(value)):
            return f"{key} must be a string"
    return None


def _check_optional_text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and v.strip()) else "must be a non-empty string when set"


def _check_args(v: Any) -> str | None:
    return None if v is None or isinstance(v, str) else "must be a string (passed to the image's ENTRYPOINT)"


def _check_mount_path(v: Any) -> str | None:
    return None if isinstance(v, str) and v.startswith("/") else 'must be an absolute path, e.g. "/workspace"'


def _check_max_cost(v: Any) -> str | None:
    if v is None or (isinstance(v, int | float) and not isinstance(v, bool) and v > 0):
        return None
    return "must be a positive number of USD per hour when set"


def _check_running(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _env(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


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


def env_secrets(*props: Mapping[str, Any]) -> tuple[str, ...]:
    """Every `env` value of these props. The input is secret as a whole (it carries the HF token and the vLLM
    key, next to plain settings the provider cannot tell apart), and RunPod may echo it back in an error or
    a log line: each value is scrubbed like the RunPod key."""
    values = (v for p in props for v in (p.get("env") or {}).values())
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str)))


# The value rules other resources' inputs share (a serverless endpoint's, a volume's placement hints).
check_positive_int, check_cuda, check_max_cost = _check_positive_int, _check_cuda, _check_max_cost
