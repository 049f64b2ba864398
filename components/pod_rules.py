"""What a pod's inputs mean, with no I/O: the rules `components/pod.py` applies around its RunPod calls.

Kept apart from the provider so each rule can be read and tested without HTTP, a clock or Pulumi's log, and
so the provider module reads as the sequence of calls it makes. Here: the input checks (`check_inputs`), what
a change needs (`diff_inputs`: in place or a new pod), the typed inputs and the request bodies built from
them (`PodSpec`), the outputs a refresh records (`live_outputs`), and what a failure means (`explain`,
`errored_message`).

Messages name the stack setting a user changes (`SETTINGS`), not only the provider property.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult
from pulumi.runtime import rpc

if TYPE_CHECKING:  # only a type here: the rules never touch the HTTP client
    from components.runpod_api import PodInfo

PROJECT = "autoglm-runpod"
MAX_POD_NAME = 191  # RunPod's limit on a pod name

# Stopped means not billing for GPUs. ERROR is not stopped: RunPod keeps the GPU and bills, and an ERROR pod
# only allows start or terminate.
STOPPED_STATUSES = frozenset({"EXITED", "TERMINATED"})

# The stack setting behind each pod property (components/service.py maps them), for messages: a user changes
# the setting, not the property.
SETTINGS: dict[str, str] = {
    "image": f"{PROJECT}:image, imageRepository or promoteFrom",
    "gpu_type_ids": f"{PROJECT}:gpuTypes",
    "gpu_count": f"{PROJECT}:gpuCount",
    "cloud": f"{PROJECT}:cloud",
    "min_cuda_version": f"the CUDA floor of the vLLM image, from {PROJECT}:vllmVersion",
    "container_disk_gb": f"{PROJECT}:containerDiskGb",
    "network_volume_id": f"{PROJECT}:networkVolumeId",
    "registry_auth_id": f"{PROJECT}:registryAuthId",
    "max_cost_per_hour": f"{PROJECT}:maxCostPerHour",
    "ready_timeout_s": f"{PROJECT}:healthTimeoutMinutes × 60",
    "running": f"{PROJECT}:running",
}


def named(key: str) -> str:
    """A pod property with the stack setting behind it: `gpu_type_ids (autoglm-runpod:gpuTypes)`."""
    return f"{key} ({SETTINGS[key]})" if key in SETTINGS else key


def setting(key: str) -> str:
    """The stack setting behind a pod property (the property itself when no setting maps to it)."""
    return SETTINGS.get(key, key)


INPUT_DEFAULTS: dict[str, Any] = {
    "gpu_count": 1, "cloud": "SECURE", "container_disk_gb": 80, "ports": ["8000/http"], "env": {},
    "volume_mount_path": "/workspace", "ready_timeout_s": 1200, "running": True,
}
INPUT_KEYS = ("name", "image", "gpu_type_ids", "gpu_count", "cloud", "min_cuda_version", "container_disk_gb",
              "ports", "env", "args", "network_volume_id", "volume_mount_path", "registry_auth_id",
              "max_cost_per_hour", "ready_timeout_s", "running")
OUTPUT_KEYS = ("pod_id", "status", "gpu_type_id", "cuda_version", "cost_per_hr", "data_center_id", "endpoint_url")
# What a new pod is needed for (v2 cannot change it on a pod, or changing it would move the pod).
REPLACE_KEYS = frozenset({"image", "gpu_count", "cloud", "container_disk_gb", "network_volume_id"})

_CUDA = re.compile(r"^\d+\.\d+$")
_PORT = re.compile(r"^(\d{1,5})/(http|tcp)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CUDA_GATE = re.compile(r"unsatisfied condition: cuda>=(\d+\.\d+)")
_PULL_FAILED = re.compile(r"pull access denied|manifest unknown|repository does not exist|unauthorized: ",
                          re.IGNORECASE)
_DISK_FULL = re.compile(r"no space left on device", re.IGNORECASE)


@dataclass(frozen=True)
class PodSpec:
    """The checked inputs, typed (the host hands every number over as a float)."""

    name: str
    image: str
    gpu_type_ids: tuple[str, ...]
    min_cuda_version: str
    gpu_count: int
    cloud: str
    container_disk_gb: int
    ports: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # carries the HF token and the vLLM key
    args: str | None
    network_volume_id: str | None
    volume_mount_path: str
    registry_auth_id: str | None
    max_cost_per_hour: float | None
    ready_timeout_s: int
    running: bool

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> PodSpec:
        p = {**INPUT_DEFAULTS, **props}
        cost = p.get("max_cost_per_hour")
        return cls(
            name=str(p["name"]), image=str(p["image"]), gpu_type_ids=tuple(p["gpu_type_ids"]),
            min_cuda_version=str(p["min_cuda_version"]), gpu_count=int(p["gpu_count"]), cloud=str(p["cloud"]),
            container_disk_gb=int(p["container_disk_gb"]), ports=tuple(p["ports"]),
            env={str(k): str(v) for k, v in (p.get("env") or {}).items()}, args=p.get("args"),
            network_volume_id=p.get("network_volume_id"), volume_mount_path=str(p["volume_mount_path"]),
            registry_auth_id=p.get("registry_auth_id"), max_cost_per_hour=None if cost is None else float(cost),
            ready_timeout_s=int(p["ready_timeout_s"]), running=bool(p["running"]),
        )

    def inputs(self) -> dict[str, Any]:
        """The inputs as they go into outputs and state (plain data; optional ones left out when unset)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(gpu_type_ids=list(self.gpu_type_ids), ports=list(self.ports), env=dict(self.env))
        return {k: v for k, v in values.items() if v is not None}

    def create_body(self, gpu_type_id: str) -> dict[str, Any]:
        """A `CreatePodRequest` for one GPU type; the CUDA floor rides on every create."""
        body: dict[str, Any] = {
            "name": self.name, "image": self.image, "cloud": self.cloud, "disk": self.container_disk_gb,
            "ports": list(self.ports), "env": dict(self.env),
            "gpu": {"id": gpu_type_id, "count": self.gpu_count, "minCudaVersion": self.min_cuda_version},
        }
        if self.args:
            body["args"] = self.args
        if self.registry_auth_id:
            body["registry"] = self.registry_auth_id
        if self.network_volume_id:
            body["mounts"] = self.mounts()
        return body

    def mounts(self) -> dict[str, Any]:
        return {"network": [{"volumeId": self.network_volume_id, "path": self.volume_mount_path}]}

    def patch_body(self, olds: Mapping[str, Any]) -> dict[str, Any]:
        """An `UpdatePodRequest` with what changed among the fields v2 lets a pod change in place."""
        old = PodSpec.from_props(olds)
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

    def endpoint_url(self, pod_id: str) -> str:
        """RunPod's HTTPS proxy for the first HTTP port (`https://{pod}-{port}.proxy.runpod.net`)."""
        port = next((p.split("/")[0] for p in self.ports if p.endswith("/http")), "8000")
        return f"https://{pod_id}-{port}.proxy.runpod.net"

    def describe(self) -> str:
        return f"pod {self.name!r}"


# ---- check: every input validated without an API call ------------------------------------------------------


def _is_unknown(value: Any) -> bool:
    """During preview, values computed by other resources arrive as `Unknown` (possibly nested)."""
    if isinstance(value, pulumi.output.Unknown) or value == rpc.UNKNOWN:
        return True
    if isinstance(value, list | tuple):
        return any(_is_unknown(v) for v in value)
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def _check_name(v: Any) -> str | None:
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_POD_NAME:
        return f"must be 1–{MAX_POD_NAME} characters (RunPod's limit); use pod_name(stack, resource_name)"
    return None


def _check_image(v: Any) -> str | None:
    if not isinstance(v, str) or not v or any(c.isspace() for c in v):
        return "must be an image reference without spaces, e.g. docker.io/vllm/vllm-openai:v0.11.0"
    return None


def _check_gpu_types(v: Any) -> str | None:
    if (not isinstance(v, list | tuple) or not v or not all(isinstance(g, str) and g.strip() for g in v)
            or len(set(v)) != len(v)):
        return 'must list one or more distinct RunPod GPU type ids in order of preference, e.g. ["NVIDIA L40S"]'
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
        if not (isinstance(value, str) or _is_unknown(value)):
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


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "name": _check_name, "image": _check_image, "gpu_type_ids": _check_gpu_types,
    "gpu_count": _check_positive_int, "cloud": _check_cloud, "min_cuda_version": _check_cuda,
    "container_disk_gb": _check_positive_int, "ports": _check_ports, "env": _check_env, "args": _check_args,
    "network_volume_id": _check_optional_text, "volume_mount_path": _check_mount_path,
    "registry_auth_id": _check_optional_text, "max_cost_per_hour": _check_max_cost,
    "ready_timeout_s": _check_positive_int, "running": _check_running,
}
REQUIRED = ("name", "image", "gpu_type_ids", "min_cuda_version")


def check_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[CheckFailure]]:
    """Defaults filled in, and one failure per bad property (unknown values are checked at `up`)."""
    inputs = {**INPUT_DEFAULTS, **{k: v for k, v in news.items() if k != "__provider"}}
    failures = [CheckFailure(k, f"{named(k)} is required") for k in REQUIRED if inputs.get(k) is None]
    for key, rule in CHECKS.items():
        value = inputs.get(key)
        if (key in REQUIRED and value is None) or _is_unknown(value):
            continue
        reason = rule(value)
        if reason:
            failures.append(CheckFailure(key, f"{named(key)} {reason}"))
    if inputs.get("network_volume_id") and inputs.get("cloud") == "COMMUNITY":
        failures.append(CheckFailure("network_volume_id", f"{named('network_volume_id')} needs {named('cloud')} "
                                     "SECURE: RunPod network volumes exist only in Secure Cloud"))
    return inputs, failures


# ---- diff ------------------------------------------------------------------------------------------------


def version_tuple(text: str) -> tuple[int, ...]:
    """A dotted version as numbers, so "12.10" sorts above "12.9"."""
    return tuple(int(part) for part in text.split("."))


def _needs_new_pod(key: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether a changed input can only be met by another pod. A new GPU preference list or CUDA floor
    that the running pod still satisfies keeps it; one it breaks replaces it."""
    if key in REPLACE_KEYS:
        return True
    new = news.get(key)
    if key == "gpu_type_ids":
        return _is_unknown(new) or olds.get("gpu_type_id") not in (new or [])
    if key == "min_cuda_version":
        host = olds.get("cuda_version")
        return _is_unknown(new) or host is None or version_tuple(str(host)) < version_tuple(str(new))
    return False


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    olds = {**INPUT_DEFAULTS, **olds}
    news = {**INPUT_DEFAULTS, **news}
    changed = [k for k in INPUT_KEYS if _is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
    replaces = [k for k in changed if _needs_new_pod(k, olds, news)]
    # A pod last seen in ERROR bills without serving: `pulumi up` must act on it (update starts it again, or
    # refuses `running: false` with what to do), never report it unchanged.
    errored = olds.get("status") == "ERROR"
    # Create-before-delete (Pulumi's default): the old pod keeps serving until the new one is RUNNING.
    return DiffResult(changes=bool(changed) or errored, replaces=replaces, delete_before_replace=False)


# ---- refresh and failures: what RunPod reports, in the stack's terms -------------------------------------


def errored_message(pod: PodInfo) -> str:
    """A pod in ERROR: its container failed for good, yet it holds its GPU and bills, and RunPod allows only
    start or terminate on it, so `running: false` cannot end its billing."""
    return (f"pod {pod.id} ({pod.name}) is in ERROR: its container failed, yet RunPod keeps its GPU and bills "
            f"${pod.cost_per_hr:.2f}/h, and a pod in ERROR can only be started or terminated, not stopped "
            f"(so {named('running')} false cannot end the billing). Get a new pod with "
            "`pulumi up --replace <the pod's URN>` (`pulumi stack --show-urns` lists it), or end it with "
            f"`pulumi destroy`; `python -m components.logs {pod.id} --source system` shows why it failed.")


def live_outputs(old: Mapping[str, Any], pod: PodInfo) -> dict[str, Any]:
    """Outputs refreshed from RunPod: live facts, plus drift in what a pod carries itself (its image,
    name, args, ports, disk, count, cloud) so the next `pulumi up` puts it back. `env` is kept as declared:
    RunPod may add variables of its own. A stopped pod (EXITED) records `running: false`; a pod in ERROR
    holds its GPU and bills, so it records `running: true` (and `status: ERROR`), never "stopped"."""
    outs: dict[str, Any] = {**INPUT_DEFAULTS, **old}
    outs.update(name=pod.name, image=pod.image or outs.get("image"), ports=list(pod.ports) or outs.get("ports"),
                running=pod.status not in STOPPED_STATUSES)
    if pod.args or outs.get("args"):
        outs["args"] = pod.args
    if pod.disk_gb is not None:
        outs["container_disk_gb"] = pod.disk_gb
    if pod.gpu_count is not None:
        outs["gpu_count"] = pod.gpu_count
    if pod.cloud:
        outs["cloud"] = pod.cloud
    if "gpu_type_ids" not in old and pod.gpu_type_id:  # an import: no declaration yet
        outs["gpu_type_ids"] = [pod.gpu_type_id]
    if "env" not in old:
        outs["env"] = dict(pod.env)
    if "min_cuda_version" not in old and pod.cuda_version:
        outs["min_cuda_version"] = pod.cuda_version
    spec_port = next((p.split("/")[0] for p in outs["ports"] if p.endswith("/http")), "8000")
    outs.update(pod_id=pod.id, status=pod.status, gpu_type_id=pod.gpu_type_id, cuda_version=pod.cuda_version,
                cost_per_hr=pod.cost_per_hr, data_center_id=pod.data_center_id,
                endpoint_url=f"https://{pod.id}-{spec_port}.proxy.runpod.net")
    return outs


def explain(lines: Sequence[str], pod: PodInfo, min_cuda_version: str | None = None) -> str:
    """Name the cause of a failed start from the pod's system log, and the setting that fixes it."""
    text, image = "\n".join(lines), pod.image or "the image"
    if m := _CUDA_GATE.search(text):
        asked = f"requested CUDA ≥ {min_cuda_version}" if min_cuda_version else "requested a lower CUDA floor"
        return (f"the host's NVIDIA driver is too old for the image: {image} requires CUDA ≥ {m.group(1)} "
                f"(nvidia-container-cli: unsatisfied condition: cuda>={m.group(1)}) but the host reports "
                f"{pod.cuda_version or 'an older one'}. The pod must request the image's CUDA floor, and it "
                f"{asked} ({named('min_cuda_version')}): check that {PROJECT}:vllmVersion is the vLLM version "
                f"the image was built from, so RunPod only offers hosts with CUDA ≥ {m.group(1)}")
    if _PULL_FAILED.search(text):
        return (f"RunPod could not pull {image}: check the image reference ({setting('image')}) and, for a "
                f"private registry, {named('registry_auth_id')}")
    if _DISK_FULL.search(text):
        return f"the container disk filled up: raise {named('container_disk_gb')}"
    if not lines:
        return "RunPod's system log for it was empty or unreadable"
    return f"the last system log line is {lines[-1]!r}; see the log above"
