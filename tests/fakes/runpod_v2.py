"""A loopback fake of RunPod REST v2, following the published contract (openapi-v2.json, 2.9.0).

It is a real HTTP server on 127.0.0.1 (a `ThreadingHTTPServer` in a thread), so clients are tested through
their real transport. What it models:

- The pod endpoints: `GET/POST /v2/pods`, `GET/PATCH/DELETE /v2/pods/{id}`, `POST /v2/pods/{id}/action`,
  `GET /v2/pods/{id}/logs` (server-sent events that stay open after the backfill, with keep-alive
  comments and `Last-Event-ID` resume), and `GET /v2/catalog/gpus[/{id}]` with availability.
- Request bodies checked against `CreatePodRequest`, `UpdatePodRequest` and `PodActionRequest` (transcribed
  below, since tests read nothing outside the project): contract violations, unknown fields included,
  answer 422 problem+json with one `errors` entry per violation; the handler's cross-field rules answer 400.
- Hosts per GPU type, each with a CUDA version and free GPUs. A create honours `gpu.minCudaVersion` /
  `gpu.allowedCudaVersions`; no matching free host answers RunPod's capacity `detail`. Pods move
  PROVISIONING -> STARTING -> RUNNING on the configured `Timings`. An image whose CUDA requirement
  (`image_cuda`) exceeds its host's turns ERROR with the nvidia-container-cli line in its system log.
  A stopped pod keeps its host and frees its GPUs; starting it again needs free GPUs on that same host.
- Billing: `cost` is price x count while a pod holds GPUs (PROVISIONING, STARTING, RUNNING, ERROR), 0 when
  EXITED or TERMINATED; `billing_pods()` lists the pods costing money now.
- Answers may spell a pod's image differently from the create (`image_spelling`), as a registry-normalising
  API could.
- Faults (`inject`, `next_pods`): status codes (429 with Retry-After, 5xx, a proxy's HTML 502), slow
  answers, a create that succeeds server-side but answers 500 (`after_apply=True`), pods stuck in STARTING
  or turning ERROR, and starts refused for lack of GPUs on the host (`fill_host`).

Use it as a context manager: `with FakeRunPod() as fake: client = RunPodClient(fake.api_key, fake.base_url)`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NO_INSTANCES = ("There are no longer any instances available with the requested specifications. "
                "Please refresh and try again.")
NO_FREE_GPUS = "There are not enough free GPUs on the host machine to start this pod."
HTML_502 = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
            "</center><hr><center>cloudflare</center></body></html>")
BILLING_STATUSES = frozenset({"PROVISIONING", "STARTING", "RUNNING", "ERROR"})
ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "PROVISIONING": ("stop", "terminate"), "STARTING": ("stop", "terminate"),
    "RUNNING": ("stop", "restart", "terminate"), "EXITED": ("start", "terminate"),
    "ERROR": ("start", "terminate"), "TERMINATED": (),
}

# --- The contract, transcribed from openapi-v2.json (components/schemas) ----------------------------------

_CUDA = {"type": "string", "pattern": r"^\d+\.\d+$"}
_CONTAINER_CONFIG = {  # BaseContainerConfig + ContainerConfig
    "args": {"type": "string"},
    "disk": {"type": "integer", "minimum": 1},
    "env": {"type": "object", "additionalProperties": {"type": "string"}},
    "image": {"type": "string"},
    "ports": {"type": "array", "items": {"type": "string"}},
    "registry": {"type": ["string", "null"]},
}
_MOUNTS = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "persistent": {"type": "object", "additionalProperties": False, "required": ["size", "path"],
                       "properties": {"size": {"type": "integer", "minimum": 10}, "path": {"type": "string"}}},
        "network": {"type": "array", "maxItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["volumeId", "path"],
            "properties": {"volumeId": {"type": "string"}, "path": {"type": "string"}}}},
    },
}
CREATE_POD_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "properties": {
        **_CONTAINER_CONFIG,
        "name": {"type": "string", "minLength": 1},
        "cloud": {"type": "string", "enum": ["SECURE", "COMMUNITY"]},
        "cpu": {"type": "object", "additionalProperties": False, "required": ["id", "vcpuCount"],
                "properties": {"id": {"type": "string", "minLength": 1},
                               "vcpuCount": {"type": "integer", "minimum": 2}}},
        "dataCenterIds": {"type": "array", "items": {"type": "string"}},
        "globalNetworking": {"type": "boolean"},
        "gpu": {"type": "object", "additionalProperties": False, "required": ["id"],
                "properties": {"id": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
                               "allowedCudaVersions": {"type": "array", "items": _CUDA},
                               "minCudaVersion": _CUDA}},
        "mounts": _MOUNTS,
        "startJupyter": {"type": "boolean"},
        "startSsh": {"type": "boolean"},
        "templateId": {"type": "string", "minLength": 1},
    },
}
UPDATE_POD_REQUEST: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        **_CONTAINER_CONFIG,
        "globalNetworking": {"type": "boolean"},
        "locked": {"type": "boolean"},
        "mounts": _MOUNTS,
        "name": {"type": "string", "minLength": 1},
        "templateId": {"type": "string"},
    },
}
POD_ACTION_REQUEST: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["action"],
    "properties": {"action": {"type": "string", "enum": ["start", "stop", "restart", "terminate"]}},
}
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def validate(schema: Mapping[str, Any], value: Any, where: str = "$") -> list[str]:
    """The JSON-Schema subset the pod contract uses; messages in the style of RunPod's 422 `errors`."""
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_JSON_TYPES[t](value) for t in allowed):
            return [f"{where}: expected {' or '.join(allowed)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: value must be one of {', '.join(map(repr, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: expected length >= {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: expected string to match pattern {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: expected number >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: expected number <= {schema['maximum']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: expected at most {schema['maxItems']} items")
        for i, item in enumerate(value):
            errors += validate(schema.get("items", {}), item, f"{where}[{i}]")
    if isinstance(value, dict):
        errors += _validate_object(schema, value, where)
    return errors


def _validate_object(schema: Mapping[str, Any], value: Mapping[str, Any], where: str) -> list[str]:
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    errors = [f"{where}: missing required property '{k}'" for k in schema.get("required", []) if k not in value]
    unknown = [k for k in value if k not in props]
    if extra is False and unknown:
        errors.append(f"{where}: additional properties {', '.join(repr(k) for k in unknown)} not allowed")
    for key, item in value.items():
        sub = props.get(key, extra if isinstance(extra, dict) else None)
        if sub is not None:
            errors += validate(sub, item, f"{where}.{key}")
    return errors


# --- The model -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeGpuType:
    id: str
    name: str
    memory_gb: int
    price_secure: float
    price_community: float
    max_count: int = 8


@dataclass
class FakeHost:
    """One machine: a GPU type, the CUDA version its driver reports, and how many of its GPUs are free."""

    gpu_type_id: str
    cuda_version: str
    free_gpus: int = 8
    data_center_id: str = "US-TX-3"
    cloud: str = "SECURE"


@dataclass(frozen=True)
class Timings:
    """Seconds a pod spends in each phase (scale them down for tests, up for the benchmark)."""

    provisioning_s: float = 0.05
    starting_s: float = 0.1


@dataclass
class FakePod:
    id: str
    name: str
    image: str
    gpu_type_id: str
    gpu_count: int
    host: FakeHost
    cloud: str = "SECURE"
    args: str = ""
    disk: int = 50
    env: dict[str, str] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)
    registry: str | None = None
    mounts: dict[str, Any] = field(default_factory=dict)
    status: str = "PROVISIONING"
    phase_since: float = 0.0
    fate: str = "ok"
    locked: bool = False
    created_at: str = ""
    started_at: str | None = None
    history: list[tuple[str, float]] = field(default_factory=list)  # (status, fake clock when entered)
    logs: list[dict[str, Any]] = field(default_factory=list)  # {seq, ts, source, line}

    @property
    def holds_gpus(self) -> bool:
        return self.status in BILLING_STATUSES


@dataclass
class Fault:
    """An injected misbehaviour for requests whose method and path (a regex, full match) fit.

    `status` None answers normally (after `delay_s`); `after_apply` performs the request first, then waits
    `delay_s` and answers `status` anyway (a lost response) or, with `status` None, the real answer late;
    `html` answers a proxy's HTML page instead of problem+json.
    """

    method: str
    path: str
    status: int | None = 500
    times: int = 1
    retry_after: int | None = None
    html: bool = False
    delay_s: float = 0.0
    detail: str | None = None
    after_apply: bool = False

    def fits(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and re.fullmatch(self.path, path) is not None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    at: float
    authorized: bool


DEFAULT_GPU_TYPES = (
    FakeGpuType("NVIDIA L40S", "L40S", 48, 0.86, 0.79),
    FakeGpuType("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48, 0.77, 0.74),
    FakeGpuType("NVIDIA H100 PCIe", "H100 PCIe", 80, 2.39, 1.99),
    FakeGpuType("NVIDIA A40", "A40", 48, 0.40, 0.35),
)


def default_hosts() -> list[FakeHost]:
    """Each GPU type has an old-driver host (12.8) listed first and a current one (12.9), so a create
    without a CUDA floor lands on the old driver, as on the real cloud."""
    hosts: list[FakeHost] = []
    for gpu in DEFAULT_GPU_TYPES:
        hosts += [FakeHost(gpu.id, "12.8", 8, "EU-RO-1"), FakeHost(gpu.id, "12.9", 8, "US-TX-3")]
    return hosts


class FakeRunPod:
    """RunPod REST v2 on 127.0.0.1. Thread-safe; inspect `pods`, `requests_log`, `billing_pods()`."""

    def __init__(self, *, api_key: str = "rp_test_key_0123456789", gpu_types: Sequence[FakeGpuType] = (),
                 hosts: Sequence[FakeHost] | None = None, timings: Timings | None = None,
                 image_cuda: Mapping[str, str] | None = None, forget_terminated: bool = True,
                 sse_keepalive_s: float = 0.2, sse_max_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api_key = api_key
        self.gpu_types = {g.id: g for g in (gpu_types or DEFAULT_GPU_TYPES)}
        self.hosts: list[FakeHost] = list(default_hosts() if hosts is None else hosts)
        self.timings = timings or Timings()
        self.image_cuda = dict(image_cuda or {})  # image -> the CUDA its NVIDIA_REQUIRE_CUDA demands
        self.forget_terminated = forget_terminated  # terminated pods answer 404 (else status TERMINATED)
        self.forbidden_gpu_types: set[str] = set()  # creates on these answer 403
        # How answers spell a pod's image (RunPod may normalise the reference it was given): identity by default.
        self.image_spelling: Callable[[str], str] = lambda image: image
        self.sse_keepalive_s = sse_keepalive_s
        self.sse_max_s = sse_max_s
        self.clock = clock
        self.pods: dict[str, FakePod] = {}
        self.requests_log: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._fates: deque[str] = deque()
        self._lock = threading.RLock()
        self._log_added = threading.Condition(self._lock)
        self._seq = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # Lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> FakeRunPod:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-runpod",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._log_added:
            self._log_added.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeRunPod:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Test API -------------------------------------------------------------------------------------------

    def inject(self, method: str, path: str, status: int | None = 500, *, times: int = 1,
               retry_after: int | None = None, html: bool = False, delay_s: float = 0.0,
               detail: str | None = None, after_apply: bool = False) -> Fault:
        """Misbehave on the next `times` requests matching `method` and `path` (regex)."""
        fault = Fault(method, path, status, times, retry_after, html, delay_s, detail, after_apply)
        with self._lock:
            self.faults.append(fault)
        return fault

    def lose_next_create(self, status: int = 500) -> Fault:
        """The next create makes its pod, then answers `status` (RunPod's read-back failure)."""
        return self.inject("POST", "/v2/pods", status, after_apply=True)

    def next_pods(self, fate: str, count: int = 1) -> None:
        """The next `count` created pods get `fate`: 'stuck_starting' (never leaves STARTING) or 'error'."""
        with self._lock:
            self._fates.extend([fate] * count)

    def fill_host(self, pod_id: str) -> None:
        """Take every free GPU of the pod's host (another tenant), so a start is refused."""
        with self._lock:
            self.pods[pod_id].host.free_gpus = 0

    def set_free_gpus(self, gpu_type_id: str, free: int) -> None:
        with self._lock:
            for host in self.hosts:
                if host.gpu_type_id == gpu_type_id:
                    host.free_gpus = free

    def add_pod(self, name: str, *, gpu_type_id: str = "NVIDIA A40", image: str = "busybox",
                status: str = "RUNNING") -> FakePod:
        """A pod made elsewhere (the console, another stack, a leak), already in `status`."""
        with self._lock:
            host = next(h for h in self.hosts if h.gpu_type_id == gpu_type_id)
            pod = self._new_pod({"name": name, "image": image, "gpu": {"id": gpu_type_id}}, host, "ok")
            pod.status = status
            if not pod.holds_gpus:
                host.free_gpus += pod.gpu_count
            pod.history.append((status, self.clock()))
            return pod

    def stop_out_of_band(self, pod_id: str) -> None:
        """What the console's Stop button does."""
        with self._lock:
            self._stop(self._advanced(pod_id))

    def terminate_out_of_band(self, pod_id: str) -> None:
        with self._lock:
            self._terminate(self._advanced(pod_id))

    def append_log(self, pod_id: str, source: str, line: str) -> None:
        with self._log_added:
            self._log(self.pods[pod_id], source, line)

    def live_pods(self) -> list[FakePod]:
        """Every pod not terminated, in any status."""
        with self._lock:
            return [self._advanced(p.id) for p in list(self.pods.values()) if p.status != "TERMINATED"]

    def billing_pods(self) -> list[FakePod]:
        """Pods that cost money right now (they hold GPUs)."""
        return [p for p in self.live_pods() if p.holds_gpus]

    def pods_named(self, name: str) -> list[FakePod]:
        return [p for p in self.live_pods() if p.name == name]

    def calls(self, method: str, path: str = ".*") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests_log if r.method == method and re.fullmatch(path, r.path)]

    def status_of(self, pod_id: str) -> str:
        with self._lock:
            return self._advanced(pod_id).status

    # Model ----------------------------------------------------------------------------------------------

    def _now_iso(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _log(self, pod: FakePod, source: str, line: str) -> None:
        pod.logs.append({"seq": next(self._seq), "ts": self._now_iso(), "source": source, "line": line})
        self._log_added.notify_all()

    def _enter(self, pod: FakePod, status: str, at: float) -> None:
        pod.status, pod.phase_since = status, at
        pod.history.append((status, at))

    def _advanced(self, pod_id: str) -> FakePod:
        """The pod with its phases moved on to the fake clock's now (status is computed lazily)."""
        pod = self.pods[pod_id]
        now = self.clock()
        while True:
            t = self.timings
            if pod.status == "PROVISIONING" and now - pod.phase_since >= t.provisioning_s:
                self._enter(pod, "STARTING", pod.phase_since + t.provisioning_s)
                self._log(pod, "system", f"Pulling image {pod.image}")
            elif (pod.status == "STARTING" and pod.fate != "stuck_starting"
                  and now - pod.phase_since >= t.starting_s):
                self._finish_start(pod, pod.phase_since + t.starting_s)
            else:
                return pod

    def _finish_start(self, pod: FakePod, at: float) -> None:
        needed = self.image_cuda.get(pod.image)
        if needed and _version(pod.host.cuda_version) < _version(needed):
            self._enter(pod, "ERROR", at)
            self._log(pod, "system", "error starting container: Error response from daemon: failed to create "
                      "task for container: failed to create shim task: OCI runtime create failed: runc create "
                      "failed: unable to start container process: error during container init: error running "
                      "prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'")
            self._log(pod, "system", f"nvidia-container-cli: requirement error: unsatisfied condition: "
                      f"cuda>={needed}, please update your driver to a newer version, or use an earlier cuda "
                      f"container: unknown")
        elif pod.fate == "error":
            self._enter(pod, "ERROR", at)
            self._log(pod, "system", "container exited with code 1")
        else:
            self._enter(pod, "RUNNING", at)
            pod.started_at = self._now_iso()
            self._log(pod, "system", "Container started")
            self._log(pod, "container", "INFO: Started server process")

    def _new_pod(self, body: Mapping[str, Any], host: FakeHost, fate: str) -> FakePod:
        gpu = body["gpu"]
        count = int(gpu.get("count", 1))
        host.free_gpus -= count
        pod = FakePod(
            id=uuid.uuid4().hex[:14], name=body["name"], image=body["image"], gpu_type_id=gpu["id"],
            gpu_count=count, host=host, cloud=body.get("cloud", "SECURE"), args=body.get("args", ""),
            disk=body.get("disk", 50), env=dict(body.get("env", {})), ports=list(body.get("ports", [])),
            registry=body.get("registry"), mounts=dict(body.get("mounts", {})), fate=fate,
            created_at=self._now_iso(),
        )
        self._enter(pod, "PROVISIONING", self.clock())
        self.pods[pod.id] = pod
        self._log(pod, "system", f"Pod {pod.id} scheduled on a {pod.gpu_type_id} host in {host.data_center_id}")
        return pod

    def _stop(self, pod: FakePod) -> None:
        if pod.holds_gpus:
            pod.host.free_gpus += pod.gpu_count
        self._enter(pod, "EXITED", self.clock())
        pod.started_at = None
        self._log(pod, "system", "Pod stopped")

    def _terminate(self, pod: FakePod) -> None:
        if pod.holds_gpus:
            pod.host.free_gpus += pod.gpu_count
        self._enter(pod, "TERMINATED", self.clock())

    def _start(self, pod: FakePod) -> None:
        if pod.host.free_gpus < pod.gpu_count:
            raise _Problem(400, NO_FREE_GPUS)
        pod.host.free_gpus -= pod.gpu_count
        self._enter(pod, "STARTING", self.clock())
        self._log(pod, "system", "Pod starting")

    def _pick_host(self, gpu: Mapping[str, Any], cloud: str) -> FakeHost | None:
        count = int(gpu.get("count", 1))
        allowed = gpu.get("allowedCudaVersions") or []
        floor = gpu.get("minCudaVersion")
        for host in self.hosts:
            if (host.gpu_type_id == gpu["id"] and host.cloud == cloud and host.free_gpus >= count
                    and (not allowed or host.cuda_version in allowed)
                    and (floor is None or _version(host.cuda_version) >= _version(floor))):
                return host
        return None

    def pod_json(self, pod: FakePod) -> dict[str, Any]:
        price = self.gpu_types[pod.gpu_type_id]
        rate = price.price_secure if pod.cloud == "SECURE" else price.price_community
        running = pod.status == "RUNNING"
        http_ports = [int(p.split("/")[0]) for p in pod.ports if p.endswith("/http")]
        return {
            "id": pod.id, "name": pod.name, "status": pod.status, "actions": list(ACTIONS_BY_STATUS[pod.status]),
            "image": self.image_spelling(pod.image), "args": pod.args, "disk": pod.disk, "mounts": pod.mounts,
            "ports": pod.ports, "env": pod.env, "registry": pod.registry, "cloud": pod.cloud,
            "dataCenterId": pod.host.data_center_id, "cudaVersion": pod.host.cuda_version,
            "ssh": {"proxy": {"host": "ssh.runpod.io", "port": 22, "username": f"{pod.id}-64411eb2",
                              "command": f"ssh {pod.id}-64411eb2@ssh.runpod.io"}, "direct": None},
            "template": None, "cost": round(rate * pod.gpu_count, 4) if pod.holds_gpus else 0.0,
            "locked": pod.locked, "globalNetworking": {"enabled": False},
            "runtime": {"uptime": max(0, int(self.clock() - pod.phase_since)), "gpus": [],
                        "ports": [{"private": p, "public": None, "type": "http", "ip": None} for p in http_ports]}
            if running else None,
            "createdAt": pod.created_at, "startedAt": pod.started_at,
            "gpu": {"id": pod.gpu_type_id, "count": pod.gpu_count},
        }

    # Routes ---------------------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """Answer one API call: (status, JSON body or None). Raises `_Problem` for error answers."""
        with self._lock:
            if path == "/v2/pods":
                if method == "GET":
                    return 200, {"pods": [self.pod_json(p) for p in self.live_pods()]}
                if method == "POST":
                    return 201, self.pod_json(self._create(body))
            elif m := re.fullmatch(r"/v2/pods/([^/]+)", path):
                return self._pod_route(method, m.group(1), body)
            elif m := re.fullmatch(r"/v2/pods/([^/]+)/action", path):
                if method == "POST":
                    return self._action(m.group(1), body)
            elif path == "/v2/catalog/gpus" and method == "GET":
                return 200, {"gpus": self._catalog(query, list(self.gpu_types))}
            elif (m := re.fullmatch(r"/v2/catalog/gpus/([^/]+)", path)) and method == "GET":
                gpu_id = unquote(m.group(1))
                if gpu_id not in self.gpu_types:
                    raise _Problem(404, "gpu type not found")
                return 200, self._catalog(query, [gpu_id])[0]
            else:
                raise _Problem(404, "resource not found")
            raise _Problem(405, "The requested method is not allowed for this path.")

    def _visible(self, pod_id: str) -> FakePod:
        pod = self.pods.get(pod_id)
        if pod is None or (pod.status == "TERMINATED" and self.forget_terminated):
            raise _Problem(404, "pod not found")
        return self._advanced(pod_id)

    def _pod_route(self, method: str, pod_id: str, body: Any) -> tuple[int, Any]:
        pod = self._visible(pod_id)
        if method == "GET":
            return 200, self.pod_json(pod)
        if method == "DELETE":
            if pod.status == "TERMINATED":
                raise _Problem(404, "pod not found")
            self._terminate(pod)
            return 204, None
        if method == "PATCH":
            return 200, self.pod_json(self._patch(pod, body))
        raise _Problem(405, "The requested method is not allowed for this path.")

    def _create(self, body: Any) -> FakePod:
        _check_contract(CREATE_POD_REQUEST, body)
        if "image" not in body and "templateId" not in body:
            raise _Problem(422, "Request validation failed.", ["$: missing required property 'image'"])
        if ("gpu" in body) == ("cpu" in body):
            raise _Problem(400, "exactly one of gpu or cpu must be set")
        if "cpu" in body:
            raise _Problem(400, "CPU pods are not offered by this fake")
        gpu = body["gpu"]
        if gpu.get("allowedCudaVersions") and "minCudaVersion" in gpu:
            raise _Problem(400, "allowedCudaVersions and minCudaVersion are mutually exclusive")
        if len(body.get("mounts", {})) > 1:
            raise _Problem(400, "mounts.persistent and mounts.network are mutually exclusive")
        if gpu["id"] not in self.gpu_types:
            raise _Problem(400, f"unknown GPU type {gpu['id']!r}")
        if gpu["id"] in self.forbidden_gpu_types:
            raise _Problem(403, "access denied")
        host = self._pick_host(gpu, body.get("cloud", "SECURE"))
        if host is None:
            raise _Problem(400, NO_INSTANCES)
        fate = self._fates.popleft() if self._fates else "ok"
        return self._new_pod(body, host, fate)

    def _patch(self, pod: FakePod, body: Any) -> FakePod:
        _check_contract(UPDATE_POD_REQUEST, body)
        mounts = body.get("mounts") or {}
        if mounts and set(mounts) != set(pod.mounts):
            raise _Problem(400, "mount kind is fixed at create")
        for old, new in zip(pod.mounts.get("network", []), mounts.get("network", []), strict=False):
            if old["volumeId"] != new["volumeId"]:
                raise _Problem(400, "the volumeId of a network mount is immutable")
        resets = False
        for key in ("image", "args", "disk", "env", "ports", "registry"):
            if key in body and body[key] != getattr(pod, key):
                setattr(pod, key, body[key])
                resets = True
        if mounts:
            pod.mounts = mounts
        pod.name = body.get("name", pod.name)
        pod.locked = body.get("locked", pod.locked)
        if resets and pod.status == "RUNNING":  # editing a running pod resets its container
            self._enter(pod, "STARTING", self.clock())
            self._log(pod, "system", "Pod reset after an edit")
        return pod

    def _action(self, pod_id: str, body: Any) -> tuple[int, Any]:
        _check_contract(POD_ACTION_REQUEST, body)
        pod = self._visible(pod_id)
        action = body["action"]
        if action not in ACTIONS_BY_STATUS[pod.status]:
            raise _Problem(409, f"action '{action}' is not valid for a pod in status {pod.status}")
        if action == "terminate":
            self._terminate(pod)
            return 204, None
        if action == "stop":
            self._stop(pod)
        elif action == "start":
            self._start(pod)
        else:
            self._enter(pod, "STARTING", self.clock())
        return 200, self.pod_json(pod)

    def _catalog(self, query: dict[str, list[str]], ids: list[str]) -> list[dict[str, Any]]:
        q = {k: v[-1] for k, v in query.items()}
        wants = q.get("include") == "AVAILABILITY"
        if "include" in q and not wants:
            raise _Problem(422, "Request validation failed.", ["include: value must be 'AVAILABILITY'"])
        if wants != ("product" in q) or (not wants and {"count", "cloud", "minCudaVersion", "cudaVersions"} & set(q)):
            raise _Problem(400, "product is required with include=AVAILABILITY, and filters are valid only with it")
        if "minCudaVersion" in q and "cudaVersions" in q:
            raise _Problem(400, "cudaVersions and minCudaVersion are mutually exclusive")
        if "minCudaVersion" in q and not re.fullmatch(r"\d+(\.\d+)?", q["minCudaVersion"]):
            raise _Problem(422, "Request validation failed.", ["minCudaVersion: expected major or major.minor"])
        return [self._gpu_json(self.gpu_types[i], q if wants else None) for i in ids]

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
        hosts = [h for h in self.hosts if h.gpu_type_id == gpu.id and h.cloud == cloud
                 and (exact is None or h.cuda_version in exact)
                 and (floor is None or _version(h.cuda_version) >= _version(floor))]
        free = sum(h.free_gpus // count for h in hosts if h.free_gpus >= count)
        item["availability"] = "NONE" if free == 0 else "LOW" if free < 3 else "MEDIUM" if free < 8 else "HIGH"
        versions = sorted({h.cuda_version for h in hosts}, key=_version, reverse=True)
        item["cudaVersions"] = [{"version": v, "available": any(h.free_gpus >= count for h in hosts
                                                                 if h.cuda_version == v)} for v in versions]
        item["dataCenters"] = sorted({h.data_center_id for h in hosts})
        return item

    # Logs (SSE) -----------------------------------------------------------------------------------------

    def log_events(self, pod_id: str, query: dict[str, list[str]], last_event_id: str | None,
                   ) -> Iterator[str]:
        """The `/logs` stream as SSE text chunks: the backfill, then live lines and keep-alive comments,
        open until the fake stops or `sse_max_s` passes (clients must bound their reads)."""
        q = {k: v[-1] for k, v in query.items()}
        source = q.get("source")
        if source not in (None, "container", "system"):
            raise _Problem(422, "Request validation failed.", ["source: value must be one of 'container', 'system'"])
        tail = q.get("tail", "100")
        if not tail.isdigit() or int(tail) > 5000:
            raise _Problem(422, "Request validation failed.", ["tail: expected integer in 0..5000"])
        with self._lock:
            pod = self._visible(pod_id)
            lines = [e for e in pod.logs if source in (None, e["source"])]
            if last_event_id:
                cursor = _event_seq(last_event_id)
                backlog = [e for e in lines if e["seq"] > cursor]
            elif "since" in q:
                backlog = [e for e in lines if e["ts"] >= q["since"]]
            else:
                backlog = lines[-int(tail):] if int(tail) else []
            sent = max((e["seq"] for e in lines), default=0)
        return self._sse(pod, source, backlog, sent)

    def _sse(self, pod: FakePod, source: str | None, backlog: list[dict[str, Any]], sent: int) -> Iterator[str]:
        yield from (_sse_event(e) for e in backlog)
        deadline = time.monotonic() + self.sse_max_s
        while not self._stopping.is_set() and time.monotonic() < deadline:
            with self._log_added:
                self._log_added.wait(timeout=self.sse_keepalive_s)
                self._advanced(pod.id)  # a pod's lines appear as its phases pass, watched or not
                fresh = [e for e in pod.logs if e["seq"] > sent and source in (None, e["source"])]
                sent = max([sent, *(e["seq"] for e in fresh)])
            yield "".join(_sse_event(e) for e in fresh) if fresh else ": keep-alive\n\n"


class _Problem(Exception):
    def __init__(self, status: int, detail: str, errors: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, list(errors)


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def _check_contract(schema: Mapping[str, Any], body: Any) -> None:
    errors = validate(schema, body)
    if errors:
        raise _Problem(422, "Request validation failed.", errors)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _event_seq(event_id: str) -> int:
    tail = event_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _sse_event(e: Mapping[str, Any]) -> str:
    data = json.dumps({"ts": e["ts"], "source": e["source"], "line": e["line"]})
    return f"id: {e['ts']}/{e['seq']:012d}\ndata: {data}\n\n"


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0 framing: one request per connection; the SSE answer streams until the server closes it."""

    fake: FakeRunPod
    _request: tuple[str, str, dict[str, list[str]], Any, bool]
    server_version = "fake-runpod/2.9"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests_log`
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        authorized = self.headers.get("Authorization") == f"Bearer {self.fake.api_key}"
        self._request = (method, path, query, body, authorized)
        self._answer(method, path, query, body, authorized)

    def _record(self, status: int) -> None:
        """Logged before the answer is written, so a test that got its answer sees the call."""
        method, path, query, body, authorized = self._request
        with self.fake._lock:
            self.fake.requests_log.append(RecordedRequest(method, path, query, body, status, self.fake.clock(),
                                                          authorized))

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any, authorized: bool) -> None:
        fault = self._take_fault(method, path)
        if fault is not None and fault.delay_s and not fault.after_apply:
            time.sleep(fault.delay_s)
        if fault is not None and fault.status is not None and not fault.after_apply:
            self._send_fault(fault)
            return
        try:
            if isinstance(body, str):
                raise _Problem(400, "request body is not valid JSON")
            if not authorized:
                raise _Problem(401, "missing bearer token" if "Authorization" not in self.headers
                               else "invalid bearer token")
            if method == "GET" and (m := re.fullmatch(r"/v2/pods/([^/]+)/logs", path)):
                self._send_stream(self.fake.log_events(m.group(1), query, self.headers.get("Last-Event-ID")))
                return
            status, answer = self.fake.route(method, path, query, body)
        except _Problem as problem:
            self._send_problem(problem)
            return
        if fault is not None and fault.after_apply:  # the work is done; the answer is late, or lost
            time.sleep(fault.delay_s)
            if fault.status is not None:
                self._send_fault(fault)
                return
        self._send_json(status, answer)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.fake._lock:
            for fault in self.fake.faults:
                if fault.fits(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _send_fault(self, fault: Fault) -> int:
        assert fault.status is not None
        if fault.html:
            self._send_raw(fault.status, "text/html", HTML_502.encode(), {})
            return fault.status
        detail = fault.detail or ("rate limit exceeded for the minute window" if fault.status == 429
                                  else "upstream request failed")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return self._send_problem(_Problem(fault.status, detail), headers)

    def _send_problem(self, problem: _Problem, headers: Mapping[str, str] | None = None) -> int:
        doc: dict[str, Any] = {"title": _TITLES.get(problem.status, "Error"), "status": problem.status,
                               "detail": problem.detail}
        if problem.errors:
            doc["errors"] = problem.errors
        self._send_raw(problem.status, "application/problem+json", json.dumps(doc).encode(), headers or {})
        return problem.status

    def _send_json(self, status: int, answer: Any) -> None:
        payload = b"" if answer is None else json.dumps(answer).encode()
        self._send_raw(status, "application/json", payload,
                       {"RateLimit": '"minute";r=59;t=60', "RateLimit-Policy": '"minute";q=60;w=60'})

    def _send_raw(self, status: int, kind: str, payload: bytes, headers: Mapping[str, str]) -> None:
        self._record(status)
        try:
            self.send_response(status)
            if payload or status != 204:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    def _send_stream(self, chunks: Iterator[str]) -> None:
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "keep-alive")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client read what it wanted and hung up
