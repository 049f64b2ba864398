"""`client.endpoints`: RunPod Serverless endpoints (`/v2/serverless`), their workers and worker logs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.runpod.logs import LogLine, read_log_stream
from components.runpod.pods import segment
from components.runpod.transport import Transport

__all__ = ["EndpointInfo", "EndpointsClient", "WorkerInfo", "Workers"]


@dataclass(frozen=True)
class EndpointInfo:
    """The fields of a v2 `Endpoint` this project reads."""

    id: str
    name: str
    type: str = ""
    image: str = ""
    args: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may carry secrets
    ports: tuple[str, ...] = ()
    disk_gb: int | None = None
    registry_auth_id: str | None = None
    workers_min: int = 0
    workers_max: int = 0
    idle_timeout_s: int | None = None
    scaling_type: str = ""
    request_count: int | None = None
    pools: tuple[str, ...] = ()
    excluded_types: tuple[str, ...] = ()
    gpu_count: int | None = None
    min_cuda_version: str | None = None
    allowed_cuda_versions: tuple[str, ...] = ()
    data_center_ids: tuple[str, ...] = ()
    network_volumes: tuple[str, ...] = ()
    timeout_ms: int | None = None
    flashboot: str = "OFF"
    base_url: str | None = None  # requestUrls.base of a LOAD_BALANCER endpoint
    health_url: str | None = None
    created_at: str | None = None

    @classmethod
    def from_api(cls, ep: Mapping[str, Any]) -> EndpointInfo:
        workers, scaling = ep.get("workers") or {}, ep.get("scaling") or {}
        gpu, urls = ep.get("gpu") or {}, ep.get("requestUrls") or {}
        return cls(
            id=str(ep["id"]), name=str(ep.get("name", "")), type=str(ep.get("type") or ""),
            image=str(ep.get("image") or ""), args=str(ep.get("args") or ""), env=dict(ep.get("env") or {}),
            ports=tuple(ep.get("ports") or ()), disk_gb=ep.get("disk"), registry_auth_id=ep.get("registry"),
            workers_min=int(workers.get("min") or 0), workers_max=int(workers.get("max") or 0),
            idle_timeout_s=workers.get("idleTimeout"), scaling_type=str(scaling.get("type") or ""),
            request_count=scaling.get("requestCount"), pools=tuple(gpu.get("pools") or ()),
            excluded_types=tuple(gpu.get("excludedTypes") or ()), gpu_count=gpu.get("count"),
            min_cuda_version=gpu.get("minCudaVersion") or None,
            allowed_cuda_versions=tuple(gpu.get("allowedCudaVersions") or ()),
            data_center_ids=tuple(ep.get("dataCenterIds") or ()), network_volumes=tuple(ep.get("networkVolumes") or ()),
            timeout_ms=ep.get("timeout"), flashboot=str(ep.get("flashboot") or "OFF"),
            base_url=urls.get("base"), health_url=urls.get("health"), created_at=ep.get("createdAt"),
        )


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    status: str
    gpu_type_id: str | None = None
    data_center_id: str | None = None
    uptime_s: int | None = None
    is_stale: bool = False

    @classmethod
    def from_api(cls, worker: Mapping[str, Any]) -> WorkerInfo:
        return cls(id=str(worker["id"]), status=str(worker.get("status") or ""), gpu_type_id=worker.get("gpuTypeId"),
                   data_center_id=worker.get("dataCenterId"), uptime_s=worker.get("uptimeSeconds"),
                   is_stale=bool(worker.get("isStale")))


@dataclass(frozen=True)
class Workers:
    """An endpoint's active workers (scaled-down ones are not listed) and the count per status."""

    workers: tuple[WorkerInfo, ...]
    summary: Mapping[str, int]

    def count(self, status: str) -> int:
        return int(self.summary.get(status.lower(), 0))


@dataclass
class EndpointsClient:
    """`/v2/serverless`: create, read, update, delete endpoints; list their workers; read worker logs."""

    transport: Transport

    def list(self) -> list[EndpointInfo]:
        body = self.transport.request("GET", "/v2/serverless")
        return [EndpointInfo.from_api(e) for e in body.get("endpoints", [])]

    def get(self, endpoint_id: str) -> EndpointInfo:
        return EndpointInfo.from_api(self.transport.request("GET", f"/v2/serverless/{segment(endpoint_id)}"))

    def create(self, body: Mapping[str, Any]) -> EndpointInfo:
        """POST /v2/serverless: never retried on 5xx or a timeout (it may have been made: look it up by name)."""
        made = self.transport.request("POST", "/v2/serverless", body=body, idempotent=False,
                                      read_timeout_s=self.transport.create_read_timeout_s)
        return EndpointInfo.from_api(made)

    def update(self, endpoint_id: str, body: Mapping[str, Any]) -> EndpointInfo:
        """PATCH: only the fields present change (`gpu.pools` without `excludedTypes` clears the exclusions)."""
        return EndpointInfo.from_api(self.transport.request("PATCH", f"/v2/serverless/{segment(endpoint_id)}",
                                                            body=body))

    def delete(self, endpoint_id: str) -> None:
        """DELETE (204): workers terminated, queued work cancelled. NotFound when already gone."""
        self.transport.request("DELETE", f"/v2/serverless/{segment(endpoint_id)}")

    def workers(self, endpoint_id: str) -> Workers:
        body = self.transport.request("GET", f"/v2/serverless/{segment(endpoint_id)}/workers")
        return Workers(tuple(WorkerInfo.from_api(w) for w in body.get("workers", [])),
                       {str(k): int(v) for k, v in (body.get("summary") or {}).items()})

    def worker_logs(self, endpoint_id: str, worker_id: str, **bounds: Any) -> Iterator[LogLine]:
        path = f"/v2/serverless/{segment(endpoint_id)}/workers/{segment(worker_id)}/logs"
        return read_log_stream(self.transport, path, **bounds)
