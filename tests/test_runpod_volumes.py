"""Network volumes: the client (`client.volumes`, `client.catalog.data_centers`) against the fake, whose answers follow
the published contract, and the rules a pod that mounts a volume meets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from components.runpod import BadRequest, InvalidRequest, NotFound, RunPodClient
from tests.fakes.runpod import FakeHost, FakeRunPod
from tests.fakes.runpod.contract import contract_errors

L40S = "NVIDIA L40S"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeRunPod]:
    hosts = [FakeHost(L40S, "12.9", 8, "EU-RO-1"), FakeHost(L40S, "12.9", 8, "US-TX-3")]
    with FakeRunPod(hosts=hosts, volume_root=tmp_path / "volumes") as f:
        yield f


@pytest.fixture
def client(fake: FakeRunPod) -> RunPodClient:
    return RunPodClient(fake.api_key, fake.base_url, backoff_factor_s=0.01)


def raw(fake: FakeRunPod, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, fake.base_url + path, json=body, timeout=5,
                            headers={"Authorization": f"Bearer {fake.api_key}"})


def test_crud_answers_follow_the_published_contract(fake: FakeRunPod, client: RunPodClient) -> None:
    made = raw(fake, "POST", "/v2/network-volumes", {"name": "cache", "size": 30, "dataCenter": "EU-RO-1"})
    assert made.status_code == 201 and contract_errors("NetworkVolume", made.json()) == []
    volume_id = made.json()["id"]
    assert made.json()["type"] == "STANDARD", "no type: the data center's primary tier"
    assert contract_errors("ListNetworkVolumesResponse", raw(fake, "GET", "/v2/network-volumes").json()) == []
    grown = client.volumes.update(volume_id, {"size": 40, "name": "cache-2"})
    assert (grown.size_gb, grown.name, grown.data_center) == (40, "cache-2", "EU-RO-1")
    assert client.volumes.get(volume_id) == grown and client.volumes.list() == [grown]
    assert raw(fake, "DELETE", f"/v2/network-volumes/{volume_id}").status_code == 204
    with pytest.raises(NotFound):
        client.volumes.get(volume_id)
    with pytest.raises(NotFound):
        client.volumes.delete(volume_id)


def test_a_volume_only_grows(fake: FakeRunPod, client: RunPodClient) -> None:
    volume = client.volumes.create({"name": "cache", "size": 50, "dataCenter": "US-TX-3", "type": "HIGH_PERFORMANCE"})
    with pytest.raises(BadRequest, match="size decrease attempted"):
        client.volumes.update(volume.id, {"size": 40})
    assert fake.volumes[volume.id].size == 50


@pytest.mark.parametrize(("body", "error", "says"), [
    ({"name": "c", "size": 5, "dataCenter": "EU-RO-1"}, InvalidRequest, r"\$\.size: expected number >= 10"),
    ({"name": "c", "size": 5000, "dataCenter": "EU-RO-1"}, InvalidRequest, r"expected number <= 4096"),
    ({"name": "c", "size": 20, "dataCenter": "EU-RO-1", "type": "FAST"}, InvalidRequest, "value must be one of"),
    ({"name": "c", "size": 20, "dataCenter": "EU-RO-1", "region": "x"}, InvalidRequest, "'region' not allowed"),
    ({"name": "c", "size": 20, "dataCenter": "MARS-1"}, BadRequest, "unknown data center"),
    ({"name": "c", "size": 20, "dataCenter": "EU-RO-1", "type": "HIGH_PERFORMANCE"}, BadRequest,
     "offers no HIGH_PERFORMANCE"),
])
def test_creates_are_checked_as_the_contract_says(client: RunPodClient, body: dict[str, Any],
                                                  error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        client.volumes.create(body)


def test_an_empty_patch_is_refused(fake: FakeRunPod, client: RunPodClient) -> None:
    volume = fake.add_volume("cache")
    with pytest.raises(InvalidRequest):
        client.volumes.update(volume.id, {})


def test_each_volume_has_its_own_storage_until_deleted(fake: FakeRunPod, client: RunPodClient) -> None:
    volume = client.volumes.create({"name": "cache", "size": 20, "dataCenter": "EU-RO-1"})
    root = fake.volumes[volume.id].root
    assert root is not None and root.is_dir()
    (root / "hf").mkdir()
    client.volumes.delete(volume.id)
    assert not root.exists()


def test_data_centers_offering_a_tier(client: RunPodClient) -> None:
    assert client.catalog.data_centers(network_volume_type="HIGH_PERFORMANCE") == ["US-TX-3", "EU-SE-1"]
    assert client.catalog.data_centers() == ["US-TX-3", "EU-RO-1", "EU-SE-1"]


# ---- a pod that mounts a volume ------------------------------------------------------------------------------


def pod_body(volume_id: str, **over: Any) -> dict[str, Any]:
    return {"name": "p", "image": "img", "gpu": {"id": L40S, "minCudaVersion": "12.9"},
            "mounts": {"network": [{"volumeId": volume_id, "path": "/runpod-volume"}]}, **over}


def test_a_pod_pinned_to_the_volumes_data_center_lands_there(fake: FakeRunPod, client: RunPodClient) -> None:
    volume = fake.add_volume("cache", data_center="US-TX-3")
    pod = client.pods.create(pod_body(volume.id, dataCenterIds=["US-TX-3"]))
    assert pod.data_center_id == "US-TX-3"


@pytest.mark.parametrize(("over", "says"), [
    ({"dataCenterIds": ["EU-RO-1"]}, "which dataCenterIds leaves out"),
    ({}, "not in the pod's data center EU-RO-1"),  # unpinned, RunPod's first free host is elsewhere
    ({"cloud": "COMMUNITY"}, "only available in Secure Cloud"),
])
def test_a_pod_elsewhere_than_its_volume_is_refused(fake: FakeRunPod, client: RunPodClient,
                                                    over: dict[str, Any], says: str) -> None:
    volume = fake.add_volume("cache", data_center="US-TX-3")
    with pytest.raises(BadRequest, match=says):
        client.pods.create(pod_body(volume.id, **over))
    assert fake.live_pods() == []


def test_a_pod_cannot_mount_a_volume_that_does_not_exist(client: RunPodClient) -> None:
    with pytest.raises(BadRequest, match="network volume 'nope' not found"):
        client.pods.create(pod_body("nope"))
