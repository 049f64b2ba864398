"""The catalog: the client's typed offers against the fake, whose answers follow the published contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from components.runpod import BadRequest, InvalidRequest, RunPodClient
from tests.fakes.runpod import FakeHost, FakeRunPod
from tests.fakes.runpod.contract import contract_errors

L40S, ADA6000, H100, A40 = "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA A40"


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    hosts = [FakeHost(L40S, "12.8", 8, "EU-RO-1"), FakeHost(L40S, "12.9", 2, "US-TX-3"),
             FakeHost(H100, "13.0", 8, "EU-SE-1"), FakeHost(A40, "12.9", 0, "EU-RO-1"),
             FakeHost(ADA6000, "12.9", 4, "US-TX-3", cloud="COMMUNITY")]
    with FakeRunPod(hosts=hosts) as f:
        yield f


@pytest.fixture
def client(fake: FakeRunPod) -> RunPodClient:
    return RunPodClient(fake.api_key, fake.base_url, backoff_factor_s=0.01)


def raw(fake: FakeRunPod, path: str, **params: str) -> requests.Response:
    return requests.get(fake.base_url + path, params=params, timeout=5,
                        headers={"Authorization": f"Bearer {fake.api_key}"})


def test_answers_follow_the_published_contract(fake: FakeRunPod) -> None:
    for params in ({}, {"include": "AVAILABILITY", "product": "POD"},
                   {"include": "AVAILABILITY", "product": "SERVERLESS", "minCudaVersion": "12.9"}):
        assert contract_errors("ListGpuTypesResponse", raw(fake, "/v2/catalog/gpus", **params).json()) == []
    assert contract_errors("GpuType", raw(fake, f"/v2/catalog/gpus/{L40S}").json()) == []
    for params in ({}, {"include": "GPU_AVAILABILITY"}):
        body = raw(fake, "/v2/catalog/datacenters", **params).json()
        assert contract_errors("ListDataCentersResponse", body) == []


def test_pod_offers_at_a_cuda_floor_per_cloud_data_center_and_version(client: RunPodClient) -> None:
    offers = {o.id: o for o in client.catalog.offers(min_cuda_version="12.9")}
    l40s = offers[L40S]
    assert (l40s.availability, l40s.cuda_versions, l40s.data_centers) == ("LOW", (("12.9", True),),
                                                                         (("US-TX-3", "LOW"),))
    assert l40s.available_now() and l40s.free_data_centers() == ("US-TX-3",)
    assert (l40s.pool, l40s.price_secure, l40s.pod_price("COMMUNITY")) == ("ADA_48_PRO", 0.86, 0.79)
    assert offers[H100].cuda_versions == (("13.0", True),) and offers[H100].availability == "HIGH"
    assert not offers[A40].available_now() and offers[A40].data_centers == (), "full everywhere: no dataCenters"
    assert offers[ADA6000].availability == "NONE", "its only host is in Community Cloud"
    assert client.catalog.offers(cloud="COMMUNITY", min_cuda_version="12.9")[1].availability == "MEDIUM"


def test_a_gpu_count_counts_units_on_one_host(client: RunPodClient) -> None:
    offers = {o.id: o for o in client.catalog.offers(count=4)}
    assert offers[L40S].availability == "LOW" and offers[L40S].data_centers == (("EU-RO-1", "LOW"),
                                                                                ("US-TX-3", "NONE"))


def test_serverless_lists_pool_prices_and_only_pooled_capacity(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.cloud.gpu_types["NVIDIA H100 PCIe"] = fake.cloud.gpu_types[H100].__class__(
        H100, "H100 PCIe", 80, 2.39, 1.99)  # not in a pool for this account
    offers = {o.id: o for o in client.catalog.offers(product="SERVERLESS")}
    assert offers[L40S].price_serverless == pytest.approx(1.908) and offers[L40S].pool == "ADA_48_PRO"
    assert offers[H100].price_serverless is None and offers[H100].availability == "NONE"


@pytest.mark.parametrize(("params", "error", "says"), [
    ({"include": "AVAILABILITY"}, BadRequest, "product is required"),
    ({"product": "POD"}, BadRequest, "valid only with it"),
    ({"count": "2"}, BadRequest, "valid only with it"),
    ({"include": "AVAILABILITY", "product": "POD", "minCudaVersion": "12.9", "cudaVersions": "12.9"}, BadRequest,
     "mutually exclusive"),
    ({"include": "AVAILABILITY", "product": "POD", "minCudaVersion": "twelve"}, InvalidRequest, "major.minor"),
    ({"include": "AVAILABILITY", "product": "PODS"}, InvalidRequest, "product"),
])
def test_query_rules_answer_as_the_contract_says(client: RunPodClient, params: dict[str, str],
                                                 error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        client.transport.request("GET", "/v2/catalog/gpus", params=params)


def test_data_centers_filter_by_network_volume_tier(fake: FakeRunPod) -> None:
    found = raw(fake, "/v2/catalog/datacenters", networkVolumeTypes="HIGH_PERFORMANCE").json()["dataCenters"]
    assert [dc["id"] for dc in found] == ["US-TX-3", "EU-SE-1"]
    gpus = raw(fake, "/v2/catalog/datacenters/EU-RO-1", include="GPU_AVAILABILITY").json()["gpuAvailability"]
    assert {g["id"]: g["availability"] for g in gpus} == {A40: "NONE", L40S: "HIGH"}
