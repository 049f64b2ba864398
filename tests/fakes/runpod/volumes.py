"""The network volume routes of REST v2: `GET/POST /v2/network-volumes`, `GET/PATCH/DELETE /v2/network-volumes/{id}`,
and what a pod create must respect when it mounts one (`mounted_volume`).

Bodies are checked against the contract first (422). Then, as the contract says: a create needs a data center the
catalog knows, in a tier that data center offers (omitted: its primary tier, the first it lists); a PATCH may not
shrink a volume (400 "Invalid request body or size decrease attempted"); an unknown id answers 404; a DELETE 204.
Deleting a volume a pod still mounts is undocumented, so the fake allows it. Each volume may own a directory
(`FakeVolume.root`, under the fake's `volume_root`) standing for its storage: what one pod writes there the next
pod that mounts the volume finds, which is how the tests show a warm cache.

A pod create that mounts a volume: the volume must exist (400), Secure Cloud only (400, RunPod's docs), and the
pod must land in the volume's data center. Whether RunPod steers the pod there by itself is unverified
(../shared/research/runpod-scale.md c.2), so the fake takes the strict reading: `dataCenterIds` that leave out
the volume's data center are refused (400), and a pod placed elsewhere (no `dataCenterIds`) is refused too.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.runpod.cloud import Cloud
from tests.fakes.runpod.contract import check_body
from tests.fakes.runpod.model import FakeHost, FakeVolume
from tests.fakes.runpod.problem import Problem
from tests.fakes.runpod.routes import Request, Router

__all__ = ["SIZE_DECREASE", "VolumeRoutes", "check_volume_host", "mounted_volume", "volume_json"]

SIZE_DECREASE = "Invalid request body or size decrease attempted"


def volume_json(volume: FakeVolume) -> dict[str, Any]:
    """A v2 `NetworkVolume`."""
    return {"id": volume.id, "name": volume.name, "size": volume.size, "dataCenter": volume.data_center,
            "type": volume.type}


def mounted_volume(cloud: Cloud, body: Mapping[str, Any]) -> FakeVolume | None:
    """The volume a pod create mounts (None for none), checked against the request's cloud and data centers."""
    mounts = (body.get("mounts") or {}).get("network") or []
    if not mounts:
        return None
    volume = cloud.volumes.get(mounts[0]["volumeId"])
    if volume is None:
        raise Problem(400, f"network volume {mounts[0]['volumeId']!r} not found")
    if body.get("cloud", "SECURE") != "SECURE":
        raise Problem(400, "network volumes are only available in Secure Cloud")
    wanted = body.get("dataCenterIds") or []
    if wanted and volume.data_center not in wanted:
        raise Problem(400, f"network volume {volume.id} is in {volume.data_center}, which dataCenterIds leaves out")
    return volume


def check_volume_host(volume: FakeVolume | None, host: FakeHost) -> None:
    if volume is not None and host.data_center_id != volume.data_center:
        raise Problem(400, f"network volume {volume.id} is in {volume.data_center}, not in the pod's data center "
                           f"{host.data_center_id}")


class VolumeRoutes:
    def __init__(self, cloud: Cloud, root: Path | None) -> None:
        self.cloud, self.root = cloud, root

    def register(self, router: Router) -> None:
        router.add("GET", r"/v2/network-volumes", self.list)
        router.add("POST", r"/v2/network-volumes", self.create)
        router.add("GET", r"/v2/network-volumes/([^/]+)", self.get)
        router.add("PATCH", r"/v2/network-volumes/([^/]+)", self.patch)
        router.add("DELETE", r"/v2/network-volumes/([^/]+)", self.delete)

    def list(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, {"networkVolumes": [volume_json(v) for v in self.cloud.volumes.values()]}

    def get(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            return 200, volume_json(self._volume(request.groups[0]))

    def create(self, request: Request) -> tuple[int, Any]:
        body = request.body
        check_body("CreateNetworkVolumeRequest", body)
        with self.cloud.lock:
            dc = self.cloud.data_centers.get(body["dataCenter"])
            if dc is None:
                raise Problem(400, f"unknown data center {body['dataCenter']!r}")
            kind = body.get("type") or (dc.volume_types[0] if dc.volume_types else None)
            if kind not in dc.volume_types:
                raise Problem(400, f"data center {dc.id} offers no {kind or 'network'} volumes")
            return 201, volume_json(self.add(body["name"], body["size"], dc.id, str(kind)))

    def add(self, name: str, size: int, data_center: str, kind: str) -> FakeVolume:
        """A new volume (under the cloud's lock), with its directory when the fake keeps volumes' files."""
        volume_id = uuid.uuid4().hex[:10]
        root = None
        if self.root is not None:
            root = self.root / volume_id
            root.mkdir(parents=True)
        volume = FakeVolume(volume_id, name, size, data_center, kind, root)
        self.cloud.volumes[volume_id] = volume
        return volume

    def patch(self, request: Request) -> tuple[int, Any]:
        body = request.body
        check_body("UpdateNetworkVolumeRequest", body)
        with self.cloud.lock:
            volume = self._volume(request.groups[0])
            if "size" in body and body["size"] < volume.size:
                raise Problem(400, SIZE_DECREASE)
            volume.size = body.get("size", volume.size)
            volume.name = body.get("name", volume.name)
            return 200, volume_json(volume)

    def delete(self, request: Request) -> tuple[int, Any]:
        with self.cloud.lock:
            volume = self._volume(request.groups[0])
            del self.cloud.volumes[volume.id]
            if volume.root is not None:
                shutil.rmtree(volume.root, ignore_errors=True)
            return 204, None

    def _volume(self, volume_id: str) -> FakeVolume:
        volume = self.cloud.volumes.get(volume_id)
        if volume is None:
            raise Problem(404, "network volume not found")
        return volume
