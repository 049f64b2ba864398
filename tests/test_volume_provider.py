"""`VolumeProvider` through the SDK's real dynamic-provider host (gRPC), against the loopback RunPod fake: the data
center it chooses, a lost create found by name, size only growing, delete until RunPod confirms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import provider_pb2

from components import compat
from components.providers.volume import VOLUME_TYPE, VolumeProvider
from tests.fakes.runpod import FakeHost, FakeRunPod
from tests.provider_host import Host, HostError, provider_host

L40S, H100, A40 = "NVIDIA L40S", "NVIDIA H100 PCIe", "NVIDIA A40"
NAME = "autoglm-runpod-dev-autoglm-model-cache"
KEY = "rpa_VOLUME_SECRET_0042"
AUTO_IDS = list(compat.auto_gpu_types("0.12.0", 1, "zai-org/AutoGLM-Phone-9B", 25480))
SOME, NONE = provider_pb2.DiffResponse.DIFF_SOME, provider_pb2.DiffResponse.DIFF_NONE


def hosts() -> list[FakeHost]:
    """The cheapest fitting GPU (A40) is free at the floor only in EU-RO-1 (its US-TX-3 host has an old driver);
    L40S in US-TX-3 and H100 in EU-SE-1. EU-RO-1 offers STANDARD volumes only."""
    return [FakeHost(A40, "12.8", 8, "US-TX-3"), FakeHost(A40, "12.9", 8, "EU-RO-1"),
            FakeHost(L40S, "12.9", 8, "US-TX-3"), FakeHost(H100, "13.0", 8, "EU-SE-1")]


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(api_key=KEY, hosts=hosts()) as f:
        yield f


def host_env(fake: FakeRunPod) -> dict[str, str]:
    return {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": "0.02",
            "RUNPOD_RETRY_BACKOFF_S": "0.01", "RUNPOD_STOP_TIMEOUT_S": "0.5", "RUNPOD_LANDING_GRACE_S": "0.5",
            "RUNPOD_READ_TIMEOUT_S": "2"}


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    with provider_host(VolumeProvider(), VOLUME_TYPE, env=host_env(fake)) as h:
        yield h


def props(**over: Any) -> dict[str, Any]:
    return {"name": NAME, "size_gb": 30, "gpu_type_ids": [L40S, "auto"], "auto_gpu_type_ids": AUTO_IDS,
            "min_cuda_version": "12.9", **over}


def create(host: Host, **over: Any) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check(props(**over))
    assert failures == []
    return host.create(inputs)


def posts(fake: FakeRunPod) -> int:
    return len(fake.calls("POST", "/v2/network-volumes"))


# ---- check -----------------------------------------------------------------------------------------------------


def test_check_names_the_settings_and_calls_no_api(fake: FakeRunPod, host: Host) -> None:
    inputs, failures = host.check(props())
    assert failures == [] and (inputs["volume_type"], inputs["products"], inputs["gpu_count"]) == (
        "STANDARD", ["POD"], 1)
    _, failures = host.check(props(size_gb=5, volume_type="FAST", data_center_id="eu-ro-1", products=["CLUSTER"]))
    reasons = dict(failures)
    assert reasons["size_gb"] == "size_gb (autoglm-runpod:modelCacheGb) must be a whole number of GB from 10 to 4096"
    assert reasons["volume_type"].startswith("volume_type (autoglm-runpod:modelCacheType) must be STANDARD or")
    assert "upper case" in reasons["data_center_id"] and "products" in reasons
    assert fake.requests_log == []


def test_a_smaller_size_is_refused_at_check_naming_the_setting(host: Host) -> None:
    _, failures = host.check(props(size_gb=40), olds=props(size_gb=50))
    assert failures == [("size_gb", "size_gb (autoglm-runpod:modelCacheGb) cannot go down from 50 to 40 GB: RunPod "
                                    "network volumes only grow. Keep 50 or more, or replace the volume (`pulumi up "
                                    "--replace <its URN>`; the cached weights are downloaded again).")]
    assert host.check(props(size_gb=60), olds=props(size_gb=50))[1] == []


# ---- where it goes -------------------------------------------------------------------------------------------


def test_the_volume_goes_where_the_cheapest_fitting_gpu_is_free_at_the_floor(fake: FakeRunPod, host: Host) -> None:
    volume_id, outs = create(host)
    assert (outs["volume_id"], outs["data_center_id"], outs["size_gb"]) == (volume_id, "EU-RO-1", 30)
    assert outs["monthly_price_usd"] == pytest.approx(2.10)
    (made,) = fake.volumes.values()
    assert (made.name, made.data_center, made.type) == (NAME, "EU-RO-1", "STANDARD")
    assert "data center EU-RO-1 offers STANDARD volumes" in host.stderr()
    asked = fake.calls("GET", "/v2/catalog/gpus")[0].query
    assert asked["minCudaVersion"] == ["12.9"] and asked["cloud"] == ["SECURE"]


def test_a_tier_narrows_the_data_centers(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, volume_type="HIGH_PERFORMANCE")
    assert outs["data_center_id"] == "US-TX-3", "EU-RO-1 has no HIGH_PERFORMANCE; the L40S there beats the H100"
    assert outs.get("monthly_price_usd") is None, "RunPod does not publish HIGH_PERFORMANCE prices in its API"


def test_listed_types_alone_decide(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, gpu_type_ids=[H100], auto_gpu_type_ids=[])
    assert outs["data_center_id"] == "EU-SE-1"


def test_a_pinned_data_center_is_used_when_it_offers_the_tier(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, data_center_id="EU-SE-1")
    assert outs["data_center_id"] == "EU-SE-1"
    with pytest.raises(HostError, match=r"data center EU-RO-1 \(autoglm-runpod:modelCacheDataCenter\) offers no "
                                        r"HIGH_PERFORMANCE network volumes; those that do: US-TX-3, EU-SE-1"):
        create(host, data_center_id="EU-RO-1", volume_type="HIGH_PERFORMANCE")
    assert posts(fake) == 1


def test_no_data_center_with_the_gpus_means_no_volume(fake: FakeRunPod, host: Host) -> None:
    fake.set_free_gpus(A40, 0)
    fake.set_free_gpus(L40S, 0)
    with pytest.raises(HostError, match="no data center can hold the model cache volume") as caught:
        create(host, gpu_type_ids=[A40, L40S], auto_gpu_type_ids=[])
    assert "US-TX-3, EU-RO-1, EU-SE-1" in caught.value.message and posts(fake) == 0


def test_the_budget_keeps_the_volume_where_affordable_gpus_are(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, gpu_type_ids=[H100, L40S], auto_gpu_type_ids=[], max_cost_per_hour=1.0)
    assert outs["data_center_id"] == "US-TX-3", "the H100's data center has nothing under $1/h"


def test_without_the_catalog_nothing_is_created(fake: FakeRunPod, host: Host) -> None:
    fake.inject("GET", "/v2/catalog/datacenters", 403, times=3)
    with pytest.raises(HostError, match=r"choosing its data center needs RunPod's catalog, which could not be read "
                                        r"\(.*403.*nothing was created. Retry, or set autoglm-runpod:modelCacheData"):
        create(host)
    assert posts(fake) == 0


# ---- found again by name -------------------------------------------------------------------------------------


def test_a_create_whose_answer_was_lost_is_adopted(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/network-volumes", 500, after_apply=True)
    volume_id, _ = create(host)
    assert list(fake.volumes) == [volume_id] and posts(fake) == 1
    assert "made volume" in host.stderr() and "adopting it" in host.stderr()


def test_a_failed_create_that_made_nothing_says_so_and_the_next_up_creates(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/network-volumes", 503)
    with pytest.raises(HostError, match=r"RunPod failed the create .* no volume of that name appeared within 2 s\. "
                                        r"Run `pulumi up` again"):
        create(host)
    assert fake.volumes == {}
    volume_id, _ = create(host)
    assert list(fake.volumes) == [volume_id]


def test_a_failed_create_whose_lookups_fail_too_says_it_cannot_know(fake: FakeRunPod, host: Host) -> None:
    fake.inject("GET", "/v2/network-volumes", None)  # the look for a volume to adopt, before the create, answers
    fake.inject("POST", "/v2/network-volumes", 500, after_apply=True)
    fake.inject("GET", "/v2/network-volumes", 503, times=10**6)  # then listing fails for good
    with pytest.raises(HostError, match=r"listing volumes failed for 2 s after it, so whether it made the volume is "
                                        r"unknown"):
        create(host)
    assert posts(fake) == 1, "no second create while it cannot tell"


def test_a_volume_kept_by_an_earlier_destroy_is_adopted_and_grown(fake: FakeRunPod, host: Host) -> None:
    kept = fake.add_volume(NAME, size=20, data_center="US-TX-3")
    fake.add_volume(NAME, size=20, data_center="US-TX-3", kind="HIGH_PERFORMANCE")  # another tier: not ours
    volume_id, outs = create(host)
    assert (volume_id, outs["size_gb"], outs["data_center_id"]) == (kept.id, 30, "US-TX-3")
    assert kept.size == 30 and posts(fake) == 0


# ---- update, refresh, diff -----------------------------------------------------------------------------------


def test_growing_patches_the_size_and_refresh_reads_it(fake: FakeRunPod, host: Host) -> None:
    volume_id, outs = create(host)
    inputs, _ = host.check(props(size_gb=45), olds=props())
    outs = host.update(volume_id, outs, inputs)
    assert outs["size_gb"] == 45 and fake.volumes[volume_id].size == 45
    fake.volumes[volume_id].size = 60  # grown in the console
    read_id, live = host.read(volume_id, outs)
    assert (read_id, live["size_gb"], live["monthly_price_usd"]) == (volume_id, 60, pytest.approx(4.2))
    fake.volumes.clear()
    assert host.read(volume_id, outs)[0] == ""


def diff(host: Host, outs: dict[str, Any], **news: Any) -> tuple[int, list[str], bool]:
    response = host.diff(outs["volume_id"], outs, props(**news))
    return response.changes, sorted(response.replaces), response.deleteBeforeReplace


def test_diff_replaces_only_for_a_new_tier_or_pinned_data_center(host: Host) -> None:
    _, outs = create(host)
    assert diff(host, outs)[0] == NONE
    assert diff(host, outs, gpu_type_ids=[H100], max_cost_per_hour=2.0, min_cuda_version="13.0")[0] == NONE
    assert diff(host, outs, size_gb=20)[0] == NONE, "at or below its size: nothing to do"
    assert diff(host, outs, size_gb=40) == (SOME, [], True)
    assert diff(host, outs, data_center_id="EU-RO-1")[0] == NONE, "pinning where it already is"
    assert diff(host, outs, data_center_id="US-TX-3") == (SOME, ["data_center_id"], True)
    assert diff(host, outs, volume_type="HIGH_PERFORMANCE") == (SOME, ["volume_type"], True)


# ---- delete ----------------------------------------------------------------------------------------------------


def test_delete_until_runpod_confirms_and_a_second_delete_is_a_no_op(fake: FakeRunPod, host: Host) -> None:
    volume_id, outs = create(host)
    fake.inject("DELETE", f"/v2/network-volumes/{volume_id}", 500, times=5, after_apply=False)
    host.delete(volume_id, outs)
    assert fake.volumes == {}
    host.delete(volume_id, outs)
    assert "already gone" in host.stderr()


def test_a_delete_runpod_never_confirms_fails_and_says_it_bills(fake: FakeRunPod, host: Host) -> None:
    volume_id, outs = create(host)
    fake.inject("DELETE", f"/v2/network-volumes/{volume_id}", 500, times=1000)
    with pytest.raises(HostError, match=r"deleting network volume .* failed .*: it may still exist and bill "
                                        r"\(\$2\.10/month\) until it is deleted. Run `pulumi destroy`"):
        host.delete(volume_id, outs)
    assert volume_id in fake.volumes


def test_the_api_key_appears_in_no_output_log_or_error(fake: FakeRunPod, host: Host) -> None:
    volume_id, outs = create(host)
    fake.inject("DELETE", f"/v2/network-volumes/{volume_id}", 400, detail=f"bad key {KEY}")
    with pytest.raises(HostError) as caught:
        host.delete(volume_id, outs)
    assert all(KEY not in text for text in (repr(outs), caught.value.details, host.stderr()))
