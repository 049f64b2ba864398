"""The pod provider places from RunPod's live catalog at create: `auto`, a preferred list then `auto`, the budget
refused before any create, the volume's data center, and what happens when the catalog cannot be read. Through
the SDK's real provider host, against the loopback RunPod fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import provider_pb2

from components import compat
from components.providers.pod import POD_TYPE, PodProvider
from tests.fakes.runpod import DEFAULT_GPU_TYPES, FakeGpuType, FakeHost, FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

L40S, ADA6000, H100, A40 = "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA A40"
RTX4090 = "NVIDIA GeForce RTX 4090"
IMAGE = "docker.io/acme/autoglm-vllm@sha256:0456"
AUTO_IDS = list(compat.auto_gpu_types("0.12.0", 1, "zai-org/AutoGLM-Phone-9B", 25480))


def hosts() -> list[FakeHost]:
    """The A40, the cheapest that fits, has only an old-driver host; the 4090, cheaper still, cannot hold the model."""
    return [FakeHost(A40, "12.8", 8, "EU-RO-1"), FakeHost(RTX4090, "12.9", 8, "US-TX-3"),
            FakeHost(ADA6000, "12.9", 8, "US-TX-3"), FakeHost(L40S, "12.9", 8, "EU-RO-1"),
            FakeHost(L40S, "12.9", 8, "US-TX-3"), FakeHost(H100, "12.9", 8, "EU-SE-1")]


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    types = (*DEFAULT_GPU_TYPES, FakeGpuType(RTX4090, "RTX 4090", 24, 0.69, 0.34, pool="ADA_24", price_serverless=1.1))
    with FakeRunPod(gpu_types=types, hosts=hosts(), timings=Timings(0.02, 0.04), image_cuda={IMAGE: "12.9"}) as f:
        yield f


def host_env(fake: FakeRunPod) -> dict[str, str]:
    return {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": "0.02",
            "RUNPOD_RETRY_BACKOFF_S": "0.01"}


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake)) as h:
        yield h


def create(host: Host, gpus: list[str], **over: Any) -> tuple[str, dict[str, Any]]:
    props = {"name": "autoglm-runpod-dev-autoglm-pod", "image": IMAGE, "gpu_type_ids": gpus,
             "auto_gpu_type_ids": AUTO_IDS if "auto" in gpus else [], "min_cuda_version": "12.9",
             "ready_timeout_s": 5, **over}
    inputs, failures = host.check(props)
    assert failures == []
    return host.create(inputs)


def tried(fake: FakeRunPod) -> list[str]:
    return [r.body["gpu"]["id"] for r in fake.calls("POST", "/v2/pods")]


def test_auto_takes_the_cheapest_type_that_fits_and_is_free_at_the_floor(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, ["auto"])
    assert tried(fake) == [ADA6000] and outs["gpu_type_id"] == ADA6000 and outs["cost_per_hr"] == 0.77
    log = host.stderr()
    assert f"1. {ADA6000} ($0.77/h, availability HIGH, auto)" in log
    assert f"2. {L40S} ($0.86/h, availability HIGH, auto)" in log
    assert RTX4090 not in log.split("GPU types to try")[1], "it cannot hold the model: never a candidate"
    assert outs["gpu_type_ids"] == ["auto"], "the declared list is kept as declared, whatever was chosen"


def test_a_preferred_list_then_auto(fake: FakeRunPod, host: Host) -> None:
    fake.set_free_gpus(H100, 0)  # preferred, but taken right now
    _, outs = create(host, [H100, "auto"])
    assert tried(fake) == [H100, ADA6000] and outs["gpu_type_id"] == ADA6000


def test_the_budget_refuses_before_any_create(fake: FakeRunPod, host: Host) -> None:
    with pytest.raises(HostError) as caught:
        create(host, [L40S, H100], max_cost_per_hour=0.5)
    assert ("every candidate costs more than autoglm-runpod:maxCostPerHour allows; the cheapest seen is NVIDIA L40S "
            "at $0.86/h. Raise autoglm-runpod:maxCostPerHour to at least 0.86") in caught.value.message
    assert "Nothing was created" in caught.value.message
    assert fake.calls("POST", "/v2/pods") == [] and fake.live_pods() == []


def test_the_budget_drops_dear_types_and_names_their_price(fake: FakeRunPod, host: Host) -> None:
    create(host, [H100, "auto"], max_cost_per_hour=0.8)
    assert tried(fake) == [ADA6000]
    assert f"not tried: {H100}: $2.39/h for 1 GPU is above autoglm-runpod:maxCostPerHour $0.80" in host.stderr()


def test_without_the_catalog_listed_types_still_go_and_auto_fails_with_the_reason(fake: FakeRunPod,
                                                                                  host: Host) -> None:
    fake.inject("GET", "/v2/catalog/gpus", 403, times=2, detail="catalog closed for this key")
    _, outs = create(host, [L40S], max_cost_per_hour=1.0)
    assert outs["gpu_type_id"] == L40S
    assert "catalog could not be read" in host.stderr() and "tried in order, unpriced" in host.stderr()
    with pytest.raises(HostError, match=r"ends with auto, which chooses from RunPod's live catalog, and the catalog "
                                        r"could not be read \(.*catalog closed for this key"):
        create(host, [H100, "auto"], name="autoglm-runpod-dev-other-pod")
    assert tried(fake) == [L40S]


def test_plain_ids_without_budget_or_data_center_ask_no_catalog(fake: FakeRunPod, host: Host) -> None:
    create(host, [L40S])
    assert fake.calls("GET", "/v2/catalog/gpus") == []


def test_a_pinned_data_center_keeps_only_types_free_there(fake: FakeRunPod, host: Host) -> None:
    _, outs = create(host, [ADA6000, "auto"], data_center_ids=["EU-RO-1"])
    assert tried(fake) == [L40S] and outs["data_center_id"] == "EU-RO-1"
    assert fake.calls("POST", "/v2/pods")[0].body["dataCenterIds"] == ["EU-RO-1"]
    assert f"not tried: {ADA6000}: none free in EU-RO-1, where the model cache volume is" in host.stderr()


def test_a_volume_of_your_own_pins_the_pod_to_its_data_center(fake: FakeRunPod, host: Host) -> None:
    volume = fake.add_volume("mine", data_center="US-TX-3")
    _, outs = create(host, [L40S], network_volume_id=volume.id)
    body = fake.calls("POST", "/v2/pods")[0].body
    assert body["dataCenterIds"] == ["US-TX-3"] and outs["data_center_id"] == "US-TX-3"
    assert outs["data_center_ids"] == [], "the pin is worked out at create, not recorded as an input"
    with pytest.raises(HostError, match=r"network volume nope .* does not exist in this RunPod account"):
        create(host, [L40S], network_volume_id="nope", name="autoglm-runpod-dev-other-pod")


def test_check_refuses_auto_anywhere_but_last_and_without_its_choices(host: Host) -> None:
    base = {"name": "p", "image": IMAGE, "min_cuda_version": "12.9"}
    _, failures = host.check({**base, "gpu_type_ids": ["auto", L40S]})
    assert "may hold auto only as its last entry" in dict(failures)["gpu_type_ids"]
    _, failures = host.check({**base, "gpu_type_ids": [L40S, "auto"]})
    assert "is empty while gpu_type_ids (autoglm-runpod:gpuTypes) ends with auto" in dict(failures)["auto_gpu_type_ids"]


def test_diff_keeps_a_pod_whose_type_auto_may_still_choose(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host, ["auto"])
    some, none = provider_pb2.DiffResponse.DIFF_SOME, provider_pb2.DiffResponse.DIFF_NONE
    inputs = {k: outs[k] for k in ("name", "image", "gpu_type_ids", "auto_gpu_type_ids", "min_cuda_version",
                                   "ready_timeout_s")}

    def diff(**news: Any) -> tuple[int, list[str]]:
        response = host.diff(pod_id, outs, {**inputs, **news})
        return response.changes, sorted(response.replaces)

    assert diff() == (none, [])
    assert diff(auto_gpu_type_ids=[ADA6000, H100]) == (some, [])
    assert diff(auto_gpu_type_ids=[H100]) == (some, ["auto_gpu_type_ids"])
    assert diff(gpu_type_ids=[L40S]) == (some, ["gpu_type_ids"])
    assert diff(data_center_ids=["US-TX-3"]) == (some, [])
    assert diff(data_center_ids=["EU-SE-1"]) == (some, ["data_center_ids"])


def test_nothing_free_in_the_volumes_data_center_is_refused_before_any_create(fake: FakeRunPod, host: Host) -> None:
    volume = fake.add_volume("mine", data_center="US-TX-3")
    fake.set_free_gpus(L40S, 0)
    with pytest.raises(HostError) as caught:
        create(host, [L40S], network_volume_id=volume.id)
    message = caught.value.message
    assert f"{L40S}: none free in US-TX-3, where the model cache volume is" in message
    assert "COMMUNITY" not in message and fake.calls("POST", "/v2/pods") == []


def test_capacity_refused_at_create_in_the_volumes_data_center_suggests_what_works_there(fake: FakeRunPod,
                                                                                         host: Host) -> None:
    volume = fake.add_volume("mine", data_center="US-TX-3")
    fake.forbidden_gpu_types.add(L40S)  # the catalog shows it free, RunPod refuses the create
    with pytest.raises(HostError) as caught:
        create(host, [L40S], network_volume_id=volume.id)
    message = caught.value.message
    assert "GPU types RunPod has free now in US-TX-3 at CUDA ≥ 12.9: " in message
    assert f"{ADA6000} (48 GB, HIGH)" in message
    assert H100 not in message.split("Try:")[-1], "free only in EU-SE-1, where the volume is not"
    assert "COMMUNITY" not in message, "a volume needs Secure Cloud"
    assert "move the model cache" in message and fake.live_pods() == []
