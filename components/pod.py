"""The RunPod pod as a Pulumi dynamic resource (`pulumi-python:dynamic/runpod:Pod`) over RunPod REST v2.

The pod may only land on a host whose driver runs the image (`gpu.minCudaVersion` on every create, the host's
`cudaVersion` checked once RUNNING), it never bills in silence when it fails (any failure after RunPod made
the pod terminates it before raising, with the cause read from the pod's system log), and `pulumi refresh`
and `pulumi destroy` handle it like any resource.

The provider follows the dynamic-provider contract: `create` is transactional, `delete` treats 404 as done,
`read` returns `ReadResult(None, {})` for a pod that is gone. It keeps no per-call state on `self` and
builds its HTTP client inside each method, because the host pickles it into state and runs calls on a
thread pool. Credentials come from `configure` (stack config) or the environment, never from the pickle.

Knobs for operators and tests, read at call time: `RUNPOD_POLL_INTERVAL_S` (first poll interval, default
5 s; polls back off x1.5 up to four times that) and `RUNPOD_READ_TIMEOUT_S` (HTTP read timeout).

Messages name the stack setting a user changes (`SETTINGS`), not only the provider property.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc

from components.runpod_api import (
    BadRequest,
    Conflict,
    Forbidden,
    NoCapacity,
    NotFound,
    PodInfo,
    RunPodClient,
    RunPodError,
    ServerError,
    TransportError,
    read_timeout_from_env,
)

PROJECT = "autoglm-runpod"
POD_NAME_PREFIX = f"{PROJECT}-"
# The stack's one pod resource: components/service.py registers `Pod(f"{name}-pod")` with name "autoglm",
# so a stack's pod is named `pod_name(stack, STACK_POD_RESOURCE)`.
STACK_POD_RESOURCE = "autoglm-pod"
MAX_POD_NAME = 191  # RunPod's limit on a pod name
POD_TYPE = "pulumi-python:dynamic/runpod:Pod"  # the type token

POLL_INTERVAL_S = 5.0
POLL_BACKOFF = 1.5
POLL_MAX_FACTOR = 4.0  # the interval grows to 4x the first one: 5 s -> 20 s
PROGRESS_EVERY_POLLS = 6
CREATE_ATTEMPTS = 3  # per GPU type, when RunPod answers 5xx and no pod was made
STOP_TIMEOUT_S = 120.0  # a stop RunPod has not completed by then fails the update
# After creates answered with an error or a timeout, pods RunPod made anyway may still appear: they are looked
# for this long after the last such create (or until each is accounted for), and adopted or terminated.
LANDING_GRACE_S = 120.0
LOG_TAIL = 200

FAILED_STATUSES = frozenset({"ERROR", "EXITED", "TERMINATED"})
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


class PodError(RuntimeError):
    """A pod could not be brought to (or kept in) the declared state; the message says why and what to do."""


def pod_name(stack: str, resource_name: str) -> str:
    """The deterministic RunPod name of a stack's pod: how lost creates are found and leaks are swept."""
    name = f"{POD_NAME_PREFIX}{stack}-{resource_name}"
    if len(name) <= MAX_POD_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]  # still unique, still deterministic
    return f"{name[:MAX_POD_NAME - 9]}-{digest}"


@dataclass
class PodArgs:
    """Inputs of `Pod`; the keys live in users' state, so keep them stable."""

    name: pulumi.Input[str]
    image: pulumi.Input[str]
    gpu_type_ids: pulumi.Input[Sequence[str]]  # in order of preference
    min_cuda_version: pulumi.Input[str]  # "12.9": the host driver floor the image needs
    gpu_count: pulumi.Input[int] = 1
    cloud: pulumi.Input[str] = "SECURE"
    container_disk_gb: pulumi.Input[int] = 80
    ports: pulumi.Input[Sequence[str]] = ("8000/http",)
    env: Mapping[str, pulumi.Input[str]] | None = None  # values may be secret Outputs
    args: pulumi.Input[str] | None = None  # passed to the image's ENTRYPOINT
    network_volume_id: pulumi.Input[str] | None = None
    volume_mount_path: pulumi.Input[str] = "/workspace"
    registry_auth_id: pulumi.Input[str] | None = None
    max_cost_per_hour: pulumi.Input[float] | None = None
    ready_timeout_s: pulumi.Input[int] = 1200
    running: pulumi.Input[bool] = True  # false stops the pod (GPU released, disk kept)


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


def _version(text: str) -> tuple[int, ...]:
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
        return _is_unknown(new) or host is None or _version(str(host)) < _version(str(new))
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


# ---- the provider ----------------------------------------------------------------------------------------


def _poll_interval_s() -> float:
    raw = os.environ.get("RUNPOD_POLL_INTERVAL_S")
    return float(raw) if raw else POLL_INTERVAL_S


def stack_of(name: str) -> str | None:
    """The stack whose pod is named `name` (the inverse of `pod_name(stack, STACK_POD_RESOURCE)`), if any."""
    suffix = f"-{STACK_POD_RESOURCE}"
    if name.startswith(POD_NAME_PREFIX) and name.endswith(suffix):
        stack = name[len(POD_NAME_PREFIX):-len(suffix)]
        if stack and pod_name(stack, STACK_POD_RESOURCE) == name:
            return stack
    return None


def sweep_hint(name: str) -> str:
    """How a user finds, and ends, pods named `name` that bill outside the state."""
    stack = stack_of(name)
    if stack is None:
        return (f"`python -m components.pods list` shows every pod named {name!r}; end the ones not in the "
                "stack's state in RunPod's console")
    return (f"`python -m components.pods sweep --stack {stack}` lists them (add `--keep` with the stack's own "
            "pod_id, if it has one, and `--yes` to terminate the others)")


@dataclass
class _Landings:
    """What one `create` sent and saw: the creates RunPod answered with an error or a timeout (each may still
    make a pod, even minutes later) and every pod named like ours that was not there before. Per call: the
    provider keeps no per-call state on itself."""

    already: frozenset[str]  # namesakes from before the first create: never ours
    unanswered_creates: int = 0
    answered_creates: int = 0
    last_unanswered_at: float = 0.0
    seen: set[str] = field(default_factory=set)
    lookup_error: RunPodError | None = None

    def unanswered(self, at: float) -> None:
        self.unanswered_creates += 1
        self.last_unanswered_at = at

    def answered(self, pod_id: str) -> None:
        self.answered_creates += 1
        self.seen.add(pod_id)

    def accounted(self) -> bool:
        """Every create that may have made a pod is matched by a pod seen: none can still land."""
        return len(self.seen) >= self.unanswered_creates + self.answered_creates

    @staticmethod
    def grace_s(client: RunPodClient) -> float:
        return max(LANDING_GRACE_S, client.create_read_timeout_s)

    def look(self, client: RunPodClient, spec: PodSpec) -> list[PodInfo]:
        """Our pods not terminated, oldest first (one list call; its errors are the caller's)."""
        mine = [p for p in client.list_pods() if p.name == spec.name and p.id not in self.already]
        self.seen.update(p.id for p in mine)
        return sorted((p for p in mine if p.status != "TERMINATED"), key=lambda p: p.created_at or "")

    def watch(self, client: RunPodClient, spec: PodSpec, grace_s: float, done: Callable[[list[PodInfo]], bool],
              on_seen: Callable[[PodInfo], None] | None = None) -> list[PodInfo]:
        """Look every poll interval until a look answers and `done(our live pods)` holds, at most until
        `grace_s` after the last unanswered create. Lookup errors are kept in `lookup_error`, not raised:
        it is None when the last look answered."""
        deadline = self.last_unanswered_at + grace_s
        warned = False
        while True:
            made: list[PodInfo] = []
            try:
                made = self.look(client, spec)
                self.lookup_error = None
            except RunPodError as e:
                self.lookup_error = e
                if not warned:
                    pulumi.log.warn(f"{spec.describe()}: could not look for pods the failed create(s) may have made "
                                    f"({e}); looking again every {_poll_interval_s():g} s, creating no other pod "
                                    "meanwhile")
                    warned = True
            else:
                for pod in made:
                    if on_seen is not None:
                        on_seen(pod)
                if done(made):
                    return made
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return made
            time.sleep(min(_poll_interval_s(), remaining))


class PodProvider(ResourceProvider):
    """CRUD of one RunPod GPU pod. Pickled into state by reference: keep the module path and class name."""

    _config_api_key: str | None = None
    _config_api_url: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Runs inside the provider host, after unpickling: the key never enters the pickle.
        self._config_api_key = req.config.get(f"{PROJECT}:runpodApiKey")
        self._config_api_url = req.config.get(f"{PROJECT}:runpodApiUrl")

    def _client(self) -> RunPodClient:
        """Config first, then env; a missing key fails at the first API call (never at preview)."""
        client = RunPodClient(self._config_api_key or os.environ.get("RUNPOD_API_KEY"),
                              self._config_api_url or os.environ.get("RUNPOD_API_URL"))
        client.set_read_timeout(read_timeout_from_env(os.environ))
        return client

    # check / diff ---------------------------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = check_inputs(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news)

    # create ---------------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = PodSpec.from_props(props)
        client = self._client()
        ledger = _Landings(already=self._namesakes(client, spec))
        pod = self._place(client, spec, ledger)
        try:
            pod = self._wait_running(client, pod, spec)
            self._end_duplicates(client, spec, ledger, keep=pod.id)
            self._verify_host(pod, spec)
            if not spec.running:
                pod = self._stop(client, pod, spec)
        except PodError as e:
            raise PodError(f"{e} {self._terminate_after_failure(client, spec, pod.id, ledger)}") from None
        except Exception as e:
            raise PodError(f"{spec.describe()} {pod.id}: {e}. "
                           f"{self._terminate_after_failure(client, spec, pod.id, ledger)}") from e
        except BaseException:  # interrupted: still do not leave a billing pod behind
            self._terminate_after_failure(client, spec, pod.id)
            raise
        return CreateResult(pod.id, self._outputs(spec, pod))

    @staticmethod
    def _namesakes(client: RunPodClient, spec: PodSpec) -> frozenset[str]:
        """Pods named like ours before we create: never adopted (a replacement's predecessor has our name)."""
        already = frozenset(p.id for p in client.list_pods() if p.name == spec.name)
        if already:
            pulumi.log.info(f"{len(already)} other pod(s) named {spec.name!r} exist ({', '.join(sorted(already))});"
                            " if none is this stack's, `python -m components.pods list` shows what they cost")
        return already

    def _place(self, client: RunPodClient, spec: PodSpec, ledger: _Landings) -> PodInfo:
        """Try each GPU type in order; the first that RunPod places wins."""
        refusals: list[tuple[str, RunPodError]] = []
        for gpu in spec.gpu_type_ids:
            try:
                pod = self._create_one(client, spec, gpu, ledger)
            except (NoCapacity, BadRequest, Forbidden) as e:  # RunPod's advice: move to the next candidate
                pulumi.log.info(f"{spec.describe()}: {gpu} refused ({e.detail or e}); trying the next GPU type")
                refusals.append((gpu, e))
                continue
            pulumi.log.info(f"{spec.describe()}: created {pod.id} on {gpu} in {pod.data_center_id or '?'} "
                            f"(host CUDA {pod.cuda_version or 'unknown'}, ${pod.cost_per_hr:.2f}/h)")
            return pod
        raise PodError(self._nowhere_message(client, spec, refusals))

    def _create_one(self, client: RunPodClient, spec: PodSpec, gpu: str, ledger: _Landings) -> PodInfo:
        """One GPU type. A 5xx or timeout may hide a pod RunPod made anyway (now or later): adopt it, never
        make a second blind; when every attempt failed, watch for late ones before giving up."""
        lookups = client.without_retries()  # the watch polls: one answer per look
        grace = ledger.grace_s(client)
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                pod = client.create_pod(spec.create_body(gpu))
            except (ServerError, TransportError) as e:
                ledger.unanswered(time.monotonic())
                time.sleep(_poll_interval_s() * attempt)  # a create still in flight gets time to land
                # Until a look answers, another create could stack a second pod on the first.
                made = ledger.watch(lookups, spec, grace, done=lambda _: True)
                if made:
                    return self._adopt(client, spec, made, e)
                if ledger.lookup_error is not None:
                    raise PodError(self._lost_creates(spec, gpu, ledger, e, grace)) from None
                if attempt < CREATE_ATTEMPTS:
                    continue
                pulumi.log.warn(f"{spec.describe()}: {ledger.unanswered_creates} create(s) on {gpu} got no clear "
                                f"answer ({e}); looking up to {grace:g} s for a pod RunPod made anyway, so none "
                                "bills unseen")
                made = ledger.watch(lookups, spec, grace, done=bool)
                if made:
                    return self._adopt(client, spec, made, e)
                raise PodError(self._lost_creates(spec, gpu, ledger, e, grace)) from None
            ledger.answered(pod.id)
            return pod
        raise AssertionError("unreachable")

    @staticmethod
    def _lost_creates(spec: PodSpec, gpu: str, ledger: _Landings, error: RunPodError, grace: float) -> str:
        """Why no pod came of the creates, without claiming more than the lookups showed."""
        if ledger.lookup_error is None:
            outcome = (f"no pod named {spec.name!r} appeared within {grace:g} s of the last one. Should one "
                       f"appear later, it bills outside this stack: {sweep_hint(spec.name)}.")
        else:
            outcome = (f"whether RunPod made a pod anyway is unknown, because listing pods failed too "
                       f"({ledger.lookup_error}). A pod named {spec.name!r} may bill outside this stack: "
                       f"{sweep_hint(spec.name)}.")
        return (f"RunPod failed {ledger.unanswered_creates} create(s) of {spec.describe()} on {gpu} ({error}); "
                f"{outcome} Run `pulumi up` again later.")

    def _adopt(self, client: RunPodClient, spec: PodSpec, made: list[PodInfo], error: RunPodError) -> PodInfo:
        """The oldest pod a lost create made is ours; any other one is terminated."""
        for extra in made[1:]:
            pulumi.log.warn(f"{spec.describe()}: a lost create made pod {extra.id} as well; ending it")
            self._terminate_after_failure(client, spec, extra.id)
        pulumi.log.warn(f"{spec.describe()}: RunPod answered the create with an error ({error}) but made pod "
                        f"{made[0].id}; adopting it")
        return made[0]

    def _end_duplicates(self, client: RunPodClient, spec: PodSpec, ledger: _Landings, keep: str | None) -> str:
        """A create that failed or timed out may land after another attempt made our pod: keep at most `keep`,
        watching until every such create is accounted for or the grace window ends. Returns a sentence for
        an error message when some may still land."""
        if ledger.unanswered_creates:
            if not ledger.accounted():
                pulumi.log.info(f"{spec.describe()}: waiting up to {ledger.grace_s(client):g} s after the last "
                                "create RunPod never answered, so a pod it makes late does not bill unseen")
            ledger.watch(client.without_retries(), spec, ledger.grace_s(client), done=lambda _: ledger.accounted(),
                         on_seen=lambda extra: self._end_extra(client, spec, extra, keep))
        else:  # no create went unanswered: one look for a namesake made meanwhile
            try:
                for extra in ledger.look(client, spec):
                    self._end_extra(client, spec, extra, keep)
            except RunPodError as e:
                pulumi.log.warn(f"{spec.describe()}: could not check for duplicate pods ({e})")
        if ledger.accounted():
            return ""
        missing = ledger.unanswered_creates + ledger.answered_creates - len(ledger.seen)
        hint = (f"{missing} create(s) RunPod never answered may still make a pod named {spec.name!r}, billing "
                f"outside this stack: {sweep_hint(spec.name)}.")
        pulumi.log.warn(f"{spec.describe()}: {hint}")
        return hint

    def _end_extra(self, client: RunPodClient, spec: PodSpec, extra: PodInfo, keep: str | None) -> None:
        if extra.id != keep and extra.status != "TERMINATED":
            pulumi.log.warn(f"{spec.describe()}: a late create made pod {extra.id} as well; ending it")
            self._terminate_after_failure(client, spec, extra.id)

    def _nowhere_message(self, client: RunPodClient, spec: PodSpec, refusals: list[tuple[str, RunPodError]]) -> str:
        reasons = "; ".join(f"{gpu}: {(e.detail or str(e)).rstrip('.')}" for gpu, e in refusals)
        head = (f"no GPU type in {named('gpu_type_ids')} could be placed for {spec.describe()} ({spec.gpu_count} "
                f"GPU, CUDA ≥ {spec.min_cuda_version}, {spec.cloud} cloud): {reasons}.")
        if refusals and not any(isinstance(e, NoCapacity | Forbidden) for _, e in refusals):
            return (f"{head} Every type refused the request the same way, so the request itself is the likely "
                    f"problem: {refusals[-1][1].detail}")
        return f"{head} Try: {self._suggestions(client, spec)}"

    def _suggestions(self, client: RunPodClient, spec: PodSpec) -> str:
        other = "COMMUNITY" if spec.cloud == "SECURE" else "SECURE"
        tips = [f"set {setting('cloud')} to {other}", "retry later"]
        try:
            catalog = client.list_gpu_types(count=spec.gpu_count, cloud=spec.cloud,
                                            min_cuda_version=spec.min_cuda_version)
        except RunPodError:
            return "; ".join([f"other GPU types in {setting('gpu_type_ids')}", *tips])
        free = sorted((g for g in catalog if g.get("availability", "NONE") != "NONE"
                       and g["id"] not in spec.gpu_type_ids),
                      key=lambda g: g.get("price", {}).get(spec.cloud.lower(), 0.0))
        if free:
            names = ", ".join(f"{g['id']} ({g.get('memory', '?')} GB, {g.get('availability')})" for g in free[:5])
            tips.insert(0, f"add to {setting('gpu_type_ids')} GPU types RunPod has free now at CUDA ≥ "
                           f"{spec.min_cuda_version}: {names}")
        else:
            tips.insert(0, f"other GPU types in {setting('gpu_type_ids')} (RunPod's catalog shows none free right "
                           "now at this CUDA floor)")
        return "; ".join(tips)

    # waiting --------------------------------------------------------------------------------------------

    def _wait_running(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        """Poll with backoff until RUNNING; ERROR/EXITED/TERMINATED or the deadline raise with the cause."""
        first = _poll_interval_s()
        interval, started = first, time.monotonic()
        deadline = started + spec.ready_timeout_s
        polls, seen = 0, pod.status
        while pod.status != "RUNNING":
            elapsed = time.monotonic() - started
            if pod.status in FAILED_STATUSES:
                raise PodError(self._failure(client, pod, spec, f"turned {pod.status} after {elapsed:.0f} s",
                                             first))
            if time.monotonic() >= deadline:
                raise PodError(self._failure(
                    client, pod, spec, f"was still {pod.status} after {spec.ready_timeout_s} s "
                    f"({named('ready_timeout_s')}: raise it if the pod is only slow to start)", first))
            if polls % PROGRESS_EVERY_POLLS == 0 or pod.status != seen:
                pulumi.log.info(f"{spec.describe()} {pod.id}: {pod.status} for {elapsed:.0f} s "
                                f"(waiting up to {spec.ready_timeout_s} s for RUNNING)")
            seen = pod.status
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * POLL_BACKOFF, first * POLL_MAX_FACTOR)
            polls += 1
            pod = self._poll(client, pod)
        pulumi.log.info(f"{spec.describe()} {pod.id}: RUNNING after {time.monotonic() - started:.0f} s")
        return pod

    def _poll(self, client: RunPodClient, pod: PodInfo, doing: str = "starting") -> PodInfo:
        """One status read; a transient failure (after the client's retries) keeps the last known state."""
        try:
            return client.get_pod(pod.id)
        except NotFound:
            raise PodError(f"pod {pod.id} disappeared while {doing} (terminated outside this stack?)") from None
        except (ServerError, TransportError) as e:
            pulumi.log.warn(f"pod {pod.id}: status read failed ({e}); polling on")
            return pod

    def _failure(self, client: RunPodClient, pod: PodInfo, spec: PodSpec, what: str, poll_s: float) -> str:
        lines = self._system_log(client, pod.id, poll_s)
        cause = explain(lines, pod, spec.min_cuda_version)
        if lines and cause.endswith("log above"):
            pulumi.log.error(f"pod {pod.id} system log (last lines):\n" + "\n".join(lines[-15:]))
        where = f"{pod.gpu_type_id or '?'} in {pod.data_center_id or '?'}, host CUDA {pod.cuda_version or 'unknown'}"
        return f"pod {pod.id} ({pod.name}) on {where} {what}: {cause}."

    @staticmethod
    def _system_log(client: RunPodClient, pod_id: str, poll_s: float) -> list[str]:
        """The pod's system log, read with bounds (the stream stays open after its backfill)."""
        idle = min(2.0, max(0.2, poll_s))
        try:
            return [e.line for e in client.stream_logs(pod_id, source="system", tail=LOG_TAIL, idle_s=idle,
                                                       max_s=10 * idle)]
        except RunPodError as e:
            pulumi.log.warn(f"pod {pod_id}: could not read its system log ({e})")
            return []

    def _verify_host(self, pod: PodInfo, spec: PodSpec) -> None:
        if pod.cuda_version is None:
            pulumi.log.warn(f"pod {pod.id}: RunPod did not report the host's CUDA version; it reached RUNNING, "
                            "so the image's CUDA requirement was met")
        elif _version(pod.cuda_version) < _version(spec.min_cuda_version):
            raise PodError(f"pod {pod.id} landed on a host with CUDA {pod.cuda_version}, below "
                           f"{named('min_cuda_version')} {spec.min_cuda_version}: RunPod placed it below the floor "
                           "the create asked for; retry with `pulumi up`.")
        if spec.max_cost_per_hour is not None and pod.cost_per_hr > spec.max_cost_per_hour:
            raise PodError(f"pod {pod.id} on {pod.gpu_type_id} costs ${pod.cost_per_hr:.2f}/h, above "
                           f"{named('max_cost_per_hour')} ${spec.max_cost_per_hour:.2f}: list cheaper GPU types "
                           f"first in {setting('gpu_type_ids')}, or raise {setting('max_cost_per_hour')}.")

    def _terminate_after_failure(self, client: RunPodClient, spec: PodSpec, pod_id: str,
                                 ledger: _Landings | None = None) -> str:
        """Best effort: a failed pod must not bill. Returns the sentence to add to the error; with a ledger of
        creates RunPod never answered, also ends (or names) the pods those may still make."""
        try:
            client.terminate_pod(pod_id)
        except NotFound:
            sentence = f"Pod {pod_id} is already gone, so it does not bill."
        except RunPodError as e:
            pulumi.log.error(f"pod {pod_id}: terminate failed ({e})")
            sentence = (f"Terminating pod {pod_id} failed too ({e}): it bills until you end it "
                        f"({sweep_hint(spec.name)}).")
        else:
            pulumi.log.info(f"pod {pod_id}: terminated")
            sentence = f"Pod {pod_id} was terminated, so it does not bill."
        if ledger is not None and ledger.unanswered_creates:
            late = self._end_duplicates(client, spec, ledger, keep=None)
            sentence = f"{sentence} {late}" if late else sentence
        return sentence

    # stop / start ----------------------------------------------------------------------------------------

    def _stop(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        """Stop (GPU released, disk kept) and return once RunPod reports the pod stopped. A pod in ERROR cannot
        be stopped (it bills), and a stop not done within STOP_TIMEOUT_S fails: neither is recorded stopped."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        accepted = False
        while pod.status not in STOPPED_STATUSES:
            if pod.status == "ERROR":
                raise PodError(errored_message(pod))
            if time.monotonic() >= deadline:
                raise PodError(
                    f"RunPod did not stop pod {pod.id} within {STOP_TIMEOUT_S:g} s: it is {pod.status} and bills "
                    f"${pod.cost_per_hr:.2f}/h. Run `pulumi up` again to retry the stop ({setting('running')} is "
                    f"false), or `pulumi destroy` to end the pod; {sweep_hint(spec.name)}.")
            if not accepted:
                try:
                    client.pod_action(pod.id, "stop")
                    accepted = True
                except Conflict:
                    pass  # the status moved on, or the pod is busy: the next read tells, and the stop is re-sent
            time.sleep(min(_poll_interval_s(), max(0.0, deadline - time.monotonic())))
            pod = self._poll(client, pod, "stopping")
        pulumi.log.info(f"{spec.describe()} {pod.id}: {pod.status} (stopped: the GPU is released, the disk kept)")
        return pod

    def _start(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        if pod.status == "ERROR":
            pulumi.log.warn(f"{spec.describe()} {pod.id}: in ERROR (it bills ${pod.cost_per_hr:.2f}/h); starting it "
                            "again")
        try:
            started = client.pod_action(pod.id, "start")
        except NoCapacity as e:
            raise PodError(
                f"RunPod refused to start pod {pod.id}: \"{e.detail}\" A stopped pod resumes on its own host, and "
                "that host has no free GPU now. Either retry later (`pulumi up`), keep it stopped meanwhile with "
                f"`pulumi config set {setting('running')} false`, or get a new host with "
                "`pulumi up --replace <the pod's URN>` (`pulumi stack --show-urns` lists it); a new pod starts "
                "with an empty container disk.") from None
        except Conflict:
            started = None  # already starting or running
        pulumi.log.info(f"{spec.describe()} {pod.id}: start requested")
        return started or client.get_pod(pod.id)

    # read / update / delete ------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            pod = self._client().get_pod(id_)
        except NotFound:
            return ReadResult(None, {})
        if pod.status == "TERMINATED":
            return ReadResult(None, {})
        if pod.status == "ERROR":
            pulumi.log.warn(errored_message(pod))
        outs = live_outputs({k: v for k, v in props.items() if k != "__provider"}, pod)
        return ReadResult(id_, outs, {k: outs[k] for k in INPUT_KEYS if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = PodSpec.from_props(news)
        client = self._client()
        try:
            pod = client.get_pod(id_)
        except NotFound:
            raise PodError(f"pod {id_} no longer exists: run `pulumi refresh`, then `pulumi up` to create it "
                           "again") from None
        if not spec.running and pod.status == "ERROR":
            raise PodError(errored_message(pod))  # before any change: stopping cannot end its billing
        patch = spec.patch_body(olds)
        if patch:
            pulumi.log.info(f"{spec.describe()} {id_}: updating {', '.join(sorted(patch))} in place")
            pod = client.update_pod(id_, patch)
        if not spec.running:
            return UpdateResult(self._outputs(spec, self._stop(client, pod, spec)))
        if pod.status in STOPPED_STATUSES or pod.status == "ERROR":
            pod = self._start(client, pod, spec)
        if pod.status != "RUNNING":
            try:
                pod = self._wait_running(client, pod, spec)
            except PodError as e:
                raise PodError(f"{e} {self._contain(client, pod.id)}") from None
        self._verify_host(pod, spec)
        return UpdateResult(self._outputs(spec, pod))

    def _contain(self, client: RunPodClient, pod_id: str) -> str:
        """After a failed update the pod stays in state (it may hold data): stop it rather than end it."""
        try:
            pod = client.get_pod(pod_id)
            if "stop" in pod.actions:
                client.pod_action(pod_id, "stop")
                return f"Pod {pod_id} was stopped so it does not bill GPU time; fix the cause and `pulumi up`."
        except RunPodError as e:
            return f"Pod {pod_id} could not be stopped ({e}) and may bill: `pulumi destroy` or fix and `pulumi up`."
        return (f"Pod {pod_id} is {pod.status} and may bill: `pulumi up --replace <the pod's URN>` for a new pod, "
                "or `pulumi destroy`.")

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            self._client().terminate_pod(id_)
        except NotFound:
            pulumi.log.info(f"pod {id_} was already gone")

    @staticmethod
    def _outputs(spec: PodSpec, pod: PodInfo) -> dict[str, Any]:
        return {**spec.inputs(), "pod_id": pod.id, "status": pod.status, "gpu_type_id": pod.gpu_type_id,
                "cuda_version": pod.cuda_version, "cost_per_hr": pod.cost_per_hr,
                "data_center_id": pod.data_center_id, "endpoint_url": spec.endpoint_url(pod.id)}


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


class Pod(pulumi.dynamic.Resource, module="runpod", name="Pod"):
    """A RunPod GPU pod that only runs where its image can, and never bills in silence when it fails."""

    name: pulumi.Output[str]
    image: pulumi.Output[str]
    gpu_type_ids: pulumi.Output[list[str]]
    gpu_count: pulumi.Output[int]
    cloud: pulumi.Output[str]
    min_cuda_version: pulumi.Output[str]
    container_disk_gb: pulumi.Output[int]
    ports: pulumi.Output[list[str]]
    env: pulumi.Output[dict[str, str]]
    args: pulumi.Output[str | None]
    network_volume_id: pulumi.Output[str | None]
    volume_mount_path: pulumi.Output[str]
    registry_auth_id: pulumi.Output[str | None]
    max_cost_per_hour: pulumi.Output[float | None]
    ready_timeout_s: pulumi.Output[int]
    running: pulumi.Output[bool]
    pod_id: pulumi.Output[str]
    status: pulumi.Output[str]
    gpu_type_id: pulumi.Output[str]
    cuda_version: pulumi.Output[str | None]
    cost_per_hr: pulumi.Output[float]
    data_center_id: pulumi.Output[str | None]
    endpoint_url: pulumi.Output[str]

    def __init__(self, resource_name: str, args: PodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(args)}
        props.update(dict.fromkeys(OUTPUT_KEYS))
        # env carries the HF token and the vLLM key: keep it encrypted in state (input and output) whatever
        # the program passed.
        if args.env is not None:
            props["env"] = pulumi.Output.secret(args.env)
        secret_env = pulumi.ResourceOptions(additional_secret_outputs=["env"])
        super().__init__(PodProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_env))
