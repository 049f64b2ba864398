"""`client.volumes`: RunPod network volumes (`/v2/network-volumes`), persistent storage billed until deleted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.runpod.pods import segment
from components.runpod.transport import Transport

__all__ = ["VOLUME_TYPES", "VolumeInfo", "VolumesClient"]

VOLUME_TYPES = ("STANDARD", "HIGH_PERFORMANCE")  # the contract's `VolumeType`


@dataclass(frozen=True)
class VolumeInfo:
    id: str
    name: str
    size_gb: int
    data_center: str
    type: str

    @classmethod
    def from_api(cls, volume: Mapping[str, Any]) -> VolumeInfo:
        return cls(id=str(volume["id"]), name=str(volume.get("name", "")), size_gb=int(volume.get("size") or 0),
                   data_center=str(volume.get("dataCenter") or ""), type=str(volume.get("type") or ""))


@dataclass
class VolumesClient:
    transport: Transport

    def list(self) -> list[VolumeInfo]:
        body = self.transport.request("GET", "/v2/network-volumes")
        return [VolumeInfo.from_api(v) for v in body.get("networkVolumes", [])]

    def get(self, volume_id: str) -> VolumeInfo:
        return VolumeInfo.from_api(self.transport.request("GET", f"/v2/network-volumes/{segment(volume_id)}"))

    def create(self, body: Mapping[str, Any]) -> VolumeInfo:
        """POST: a billable resource from here on. Never retried on 5xx or a timeout: look it up by name."""
        made = self.transport.request("POST", "/v2/network-volumes", body=body, idempotent=False,
                                      read_timeout_s=self.transport.create_read_timeout_s)
        return VolumeInfo.from_api(made)

    def update(self, volume_id: str, body: Mapping[str, Any]) -> VolumeInfo:
        """PATCH name and/or size; RunPod refuses a smaller size (400)."""
        return VolumeInfo.from_api(self.transport.request("PATCH", f"/v2/network-volumes/{segment(volume_id)}",
                                                          body=body))

    def delete(self, volume_id: str) -> None:
        self.transport.request("DELETE", f"/v2/network-volumes/{segment(volume_id)}")
