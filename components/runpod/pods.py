"""`client.pods`: the v2 pod calls, and `PodInfo`, a pod normalised once at the boundary."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from components.runpod.errors import BadRequest
from components.runpod.logs import LogLine, read_log_stream
from components.runpod.transport import Transport

__all__ = ["NoCapacity", "PodInfo", "PodsClient", "age_s", "segment"]

# Capacity exhaustion has no machine-readable code in v2, only these human-readable details.
_NO_CAPACITY = re.compile(r"no longer any instances available|not enough free gpus|no (?:gpu )?capacity",
                          re.IGNORECASE)


class NoCapacity(BadRequest):
    """400 whose detail says no machine (or no GPU on the pod's host) is free for this request."""


@dataclass(frozen=True)
class PodInfo:
    """The fields of a v2 `Pod` this project reads."""

    id: str
    name: str
    status: str
    actions: tuple[str, ...] = ()
    image: str = ""
    args: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # carries HF/vLLM keys
    ports: tuple[str, ...] = ()
    disk_gb: int | None = None
    gpu_type_id: str | None = None
    gpu_count: int | None = None
    cloud: str | None = None
    data_center_id: str | None = None
    cuda_version: str | None = None
    cost_per_hr: float = 0.0
    registry_auth_id: str | None = None
    network_volume_id: str | None = None
    mount_path: str | None = None
    created_at: str | None = None
    started_at: str | None = None

    @classmethod
    def from_api(cls, pod: Mapping[str, Any]) -> PodInfo:
        gpu = pod.get("gpu") or {}
        network = ((pod.get("mounts") or {}).get("network") or [{}])[0]
        persistent = (pod.get("mounts") or {}).get("persistent") or {}
        return cls(
            id=str(pod["id"]), name=str(pod.get("name", "")), status=str(pod.get("status", "")),
            actions=tuple(pod.get("actions") or ()), image=str(pod.get("image") or ""),
            args=str(pod.get("args") or ""), env=dict(pod.get("env") or {}),
            ports=tuple(pod.get("ports") or ()), disk_gb=_opt_int(pod.get("disk")),
            gpu_type_id=gpu.get("id"), gpu_count=_opt_int(gpu.get("count")), cloud=pod.get("cloud"),
            data_center_id=pod.get("dataCenterId"), cuda_version=pod.get("cudaVersion"),
            cost_per_hr=float(pod.get("cost") or 0.0), registry_auth_id=pod.get("registry"),
            network_volume_id=network.get("volumeId"), mount_path=network.get("path") or persistent.get("path"),
            created_at=pod.get("createdAt"), started_at=pod.get("startedAt"),
        )

    def age_s(self, now: datetime | None = None) -> float | None:
        """Seconds since RunPod made the pod (`age_s`)."""
        return age_s(self.created_at, now)


def age_s(created_at: str | None, now: datetime | None = None) -> float | None:
    """Seconds from `created_at` (RunPod's ISO time) to `now`; None when it is missing or unreadable. A time
    without a zone is read as local time, as `astimezone` does."""
    try:
        created = datetime.fromisoformat(created_at or "")
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - created.astimezone(UTC)).total_seconds()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def segment(value: str) -> str:
    """An id as one URL path segment (ids are opaque; never let one add a path)."""
    return quote(str(value), safe="")


def _capacity(error: BadRequest) -> BadRequest:
    """A 400 whose detail says nothing is free, as `NoCapacity`; other 400s unchanged."""
    if _NO_CAPACITY.search(error.detail):
        return NoCapacity(str(error), status=error.status, detail=error.detail, errors=error.errors)
    return error


@dataclass
class PodsClient:
    """`/v2/pods`: list, get, create, update, act on, terminate pods and read their logs."""

    transport: Transport

    def list(self) -> list[PodInfo]:
        body = self.transport.request("GET", "/v2/pods")
        return [PodInfo.from_api(p) for p in body.get("pods", [])]

    def get(self, pod_id: str) -> PodInfo:
        return PodInfo.from_api(self.transport.request("GET", f"/v2/pods/{segment(pod_id)}"))

    def create(self, body: Mapping[str, Any]) -> PodInfo:
        """POST /v2/pods. 429 is retried (nothing was made); 5xx and timeouts are raised, never retried."""
        try:
            made = self.transport.request("POST", "/v2/pods", body=body, idempotent=False,
                                          read_timeout_s=self.transport.create_read_timeout_s)
        except BadRequest as e:
            raise _capacity(e) from None
        return PodInfo.from_api(made)

    def update(self, pod_id: str, body: Mapping[str, Any]) -> PodInfo:
        """PATCH /v2/pods/{id}: only the fields present change. Editing a running pod resets it."""
        return PodInfo.from_api(self.transport.request("PATCH", f"/v2/pods/{segment(pod_id)}", body=body))

    def action(self, pod_id: str, action: str) -> PodInfo | None:
        """POST /v2/pods/{id}/action. Repeating start/stop lands on the same state, so 5xx is retried;
        a repeat that finds the work done answers 409, which the caller handles."""
        try:
            answer = self.transport.request("POST", f"/v2/pods/{segment(pod_id)}/action", body={"action": action})
        except BadRequest as e:
            raise _capacity(e) from None
        return PodInfo.from_api(answer) if answer else None

    def terminate(self, pod_id: str) -> None:
        """DELETE /v2/pods/{id} (204). Raises NotFound when the pod is already gone."""
        self.transport.request("DELETE", f"/v2/pods/{segment(pod_id)}")

    def logs(self, pod_id: str, **bounds: Any) -> Iterator[LogLine]:
        """`/v2/pods/{id}/logs`; `bounds` are `read_log_stream`'s (source, tail, follow, idle_s, max_s)."""
        return read_log_stream(self.transport, f"/v2/pods/{segment(pod_id)}/logs", **bounds)
