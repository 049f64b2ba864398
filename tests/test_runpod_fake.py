"""The RunPod fake keeps to the published contract and misbehaves as asked: checked through the real client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from components.runpod import BadRequest, InvalidRequest, NoCapacity, RunPodClient, ServerError, TransportError
from tests.conftest import ROOT
from tests.fakes.runpod import FakeRunPod, Timings, contract_errors
from tests.fakes.runpod.contract import SPEC_PATH

L40S = "NVIDIA L40S"


def body(**over: object) -> dict[str, object]:
    return {"name": "autoglm-runpod-dev-t", "image": "vllm/vllm-openai:v0.12.0", "env": {"HF_TOKEN": "hf_x"},
            "gpu": {"id": L40S, "count": 1, "minCudaVersion": "12.9"}, **over}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.02, 0.05)) as f:
        yield f


@pytest.fixture
def client(fake: FakeRunPod) -> RunPodClient:
    return RunPodClient(fake.api_key, fake.base_url, backoff_factor_s=0.01, read_timeout_s=0.5,
                        create_read_timeout_s=0.5)


def test_the_contract_is_the_published_spec_kept_in_the_repository() -> None:
    assert SPEC_PATH.is_relative_to(ROOT) and SPEC_PATH.name == "openapi-v2.json"
    assert contract_errors("CreatePodRequest", body()) == []
    assert contract_errors("UpdatePodRequest", {"env": {"A": "b"}, "name": "x"}) == []


def test_each_violation_is_reported_once_in_runpods_words() -> None:
    errors = contract_errors("CreatePodRequest", body(cloud="ALL", bogus=1, gpu={"id": L40S, "count": 0}))
    assert errors == ["$: additional properties 'bogus' not allowed",
                      "$.cloud: value must be one of 'SECURE', 'COMMUNITY'", "$.gpu.count: expected number >= 1"]
    assert contract_errors("CreatePodRequest", {"name": "x", "gpu": {"id": L40S}}) == [
        "$: missing required property 'image'"]  # the spec's if/then: image unless templateId
    assert contract_errors("CreatePodRequest", body(mounts={"network": [{"volumeId": "v"}]})) == [
        "$.mounts.network[0]: missing required property 'path'"]
    assert contract_errors("PodActionRequest", {"action": "reset"}) == [
        "$.action: value must be one of 'start', 'stop', 'restart', 'terminate'"]


def test_a_create_that_lands_later_holds_its_gpu_meanwhile(fake: FakeRunPod, client: RunPodClient) -> None:
    for host in fake.hosts:
        host.free_gpus = 1 if host.gpu_type_id == L40S and host.cuda_version == "12.9" else host.free_gpus
    fake.inject("POST", "/v2/pods", 500, land_after_s=0.3)
    with pytest.raises(ServerError):
        client.pods.create(body())
    assert fake.live_pods() == []
    with pytest.raises(NoCapacity):
        client.pods.create(body())
    assert fake.wait_landings(5)
    [pod] = fake.live_pods()
    assert pod.requested_at is not None and pod.history[0][1] - pod.requested_at >= 0.25


def test_a_dropped_connection_and_a_late_answer_are_no_answer(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("POST", "/v2/pods", None, drop=True, after_apply=True)
    with pytest.raises(TransportError, match="no answer"):
        client.pods.create(body())
    fake.inject("POST", "/v2/pods", 500, delay_s=0.8)
    with pytest.raises(TransportError):
        client.pods.create(body())
    assert len(fake.live_pods()) == 1  # the dropped create made its pod, the late one made none
    assert fake.calls("POST", "/v2/pods")[0].status == 0


def test_a_400_can_echo_the_request_env(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("POST", "/v2/pods", 400, echo_env=True, detail="invalid container configuration")
    with pytest.raises(BadRequest) as caught:
        client.pods.create(body())
    assert caught.value.detail == 'invalid container configuration: env {"HF_TOKEN": "hf_x"}'


def test_a_create_below_the_floor_lands_on_an_older_driver(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("POST", "/v2/pods", None, below_floor=True)
    assert client.pods.create(body()).cuda_version == "12.8"


def test_billing_intervals_follow_the_statuses_that_hold_gpus(fake: FakeRunPod, client: RunPodClient) -> None:
    pod = client.pods.create(body())
    time.sleep(0.1)
    client.pods.action(pod.id, "stop")
    client.pods.action(pod.id, "start")
    client.pods.terminate(pod.id)
    spans = fake.billing(pod.id)
    assert len(spans) == 2 and all(end is not None and end > start for start, end in spans)
    assert spans[0][1] is not None and spans[0][1] <= spans[1][0]


def test_an_unknown_fate_or_a_silent_late_create_is_refused(fake: FakeRunPod) -> None:
    with pytest.raises(ValueError, match="unknown fate"):
        fake.next_pods("sleepy")
    with pytest.raises(ValueError, match="answered with an error or not at all"):
        fake.inject("POST", "/v2/pods", None, land_after_s=1)


def test_templates_are_refused_with_a_reason_not_a_crash(client: RunPodClient) -> None:
    with pytest.raises(BadRequest, match="templates are not offered"):
        client.pods.create({"name": "x", "templateId": "abc", "gpu": {"id": L40S}})
    with pytest.raises(InvalidRequest):
        client.pods.create({"name": "", "image": "x", "gpu": {"id": L40S}})


def test_a_crashed_pod_restarts_on_the_gpus_it_still_holds(fake: FakeRunPod, client: RunPodClient) -> None:
    for host in fake.hosts:
        host.free_gpus = 1 if host.gpu_type_id == L40S and host.cuda_version == "12.9" else 0
    made = client.pods.create(body())
    host = fake.pods[made.id].host
    fake.crash(made.id)
    assert fake.pods[made.id].status == "ERROR" and host.free_gpus == 0
    client.pods.action(made.id, "start")  # on a full host: ERROR kept the GPUs, so nothing more is booked
    assert fake.pods[made.id].status == "STARTING" and host.free_gpus == 0
    client.pods.terminate(made.id)
    assert host.free_gpus == 1
