"""A pod is created under its provisional name and takes the stack's name only once its create succeeded, so
the pods creates that never finished left (a `pulumi up` ended mid-create) are told from the stack's: `create`,
`read` and `delete` end them, and never touch a pod under the final name. Through the SDK's provider host
against the loopback RunPod fake (the whole stack killed mid-create: tests/test_stack_interrupted.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.names import provisional_name
from components.providers.pod import POD_TYPE, PodProvider
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

NAME = "autoglm-runpod-dev-autoglm-pod"
CREATING = provisional_name(NAME)
IMAGE = "docker.io/acme/autoglm-vllm@sha256:" + "b" * 64


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.02, 0.04)) as f:
        yield f


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    env = {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": "0.02",
           "RUNPOD_STOP_TIMEOUT_S": "1", "RUNPOD_RETRY_BACKOFF_S": "0.01"}
    with provider_host(PodProvider(), POD_TYPE, env=env) as h:
        yield h


def create(host: Host, **over: Any) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check({"name": NAME, "image": IMAGE, "gpu_type_ids": ["NVIDIA L40S"],
                                   "min_cuda_version": "12.9", "ready_timeout_s": 5, **over})
    assert failures == []
    return host.create(inputs)


def test_a_pod_is_created_under_its_provisional_name_and_renamed_once_it_runs(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host, running=False)
    [sent] = fake.calls("POST", "/v2/pods")
    [rename] = fake.calls("PATCH")
    assert sent.body["name"] == CREATING and rename.body == {"name": NAME}
    assert rename.started > fake.calls("POST", f"/v2/pods/{pod_id}/action")[-1].at, "after the stop it asked for"
    assert fake.pods[pod_id].name == outs["name"] == NAME and fake.status_of(pod_id) == "EXITED"


def test_a_create_ends_what_an_unfinished_create_left_and_never_touches_a_namesake(fake: FakeRunPod,
                                                                                   host: Host) -> None:
    predecessor = fake.add_pod(NAME, gpu_type_id="NVIDIA L40S")
    left = fake.add_pod(CREATING, gpu_type_id="NVIDIA L40S", status="STARTING")
    pod_id, _ = create(host)
    assert fake.status_of(left.id) == "TERMINATED" and fake.status_of(predecessor.id) == "RUNNING"
    assert {p.id for p in fake.billing_pods()} == {predecessor.id, pod_id}
    assert host.logged(f"pod {left.id} ({CREATING}: ") and host.logged("was left by a create that never finished")


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_refresh_and_delete_end_what_an_unfinished_create_left(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    first, second = (fake.add_pod(CREATING, gpu_type_id="NVIDIA L40S") for _ in range(2))
    first.created_at = second.created_at = an_hour_ago()  # left by a run killed long ago
    # As a `pulumi up` beside this refresh (`pulumi preview --refresh` takes no lock) would have it, mid-create.
    young = fake.add_pod(CREATING, gpu_type_id="NVIDIA L40S", status="STARTING")
    assert host.read(pod_id, outs)[0] == pod_id
    assert fake.status_of(first.id) == fake.status_of(second.id) == "TERMINATED"
    assert fake.status_of(pod_id) == "RUNNING" and fake.status_of(young.id) == "STARTING"
    assert host.logged(f"pod {young.id} ({CREATING}: STARTING) is under the name a create uses")
    assert host.logged("a `pulumi up` may be creating it now, so it is left alone")
    fake.inject("GET", "/v2/pods", 503, times=1000)  # a refresh that cannot list still reads the pod
    assert host.read(pod_id, outs)[0] == pod_id and host.logged("could not look for pods an unfinished create")
    fake.faults.clear()
    host.delete(pod_id, outs)  # destroy holds the stack's lock: no create runs, every left pod is ended
    assert fake.live_pods() == [] and fake.status_of(young.id) == "TERMINATED"


def test_a_rename_answered_with_an_error_is_asked_again(fake: FakeRunPod, host: Host) -> None:
    fake.inject("PATCH", "/v2/pods/[^/]+", 500, after_apply=False)
    pod_id, outs = create(host)
    assert len(fake.calls("PATCH")) == 2 and fake.pods[pod_id].name == outs["name"] == NAME


def test_a_pod_that_cannot_be_renamed_is_ended_and_the_create_fails(fake: FakeRunPod, host: Host) -> None:
    fake.inject("PATCH", "/v2/pods/[^/]+", 503, times=1000)
    with pytest.raises(HostError) as caught:
        create(host)
    [made] = fake.pods
    assert f"RunPod did not rename pod {made} to {NAME!r}" in caught.value.message
    assert f"Pod {made} was terminated, so it does not bill." in caught.value.message
    assert fake.live_pods() == []
