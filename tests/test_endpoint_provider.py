"""`EndpointProvider` through the SDK's real dynamic-provider host (gRPC), against the loopback RunPod fake:
checks, the create body, lost creates and other faults with no endpoint left behind, updates in place, a
replacement, drift, and deletes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from components.providers.endpoint import ENDPOINT_TYPE, EndpointArgs, EndpointProvider
from components.providers.endpoint_inputs import ENDPOINT_INPUTS, EndpointSpec
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

L40S, ADA6000 = "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation"
IMAGE = "ghcr.io/acme/autoglm-vllm@sha256:" + "a" * 64
NAME = "autoglm-runpod-dev-autoglm-endpoint"
HF_TOKEN = "hf_abcdefSECRETtoken"


def props(**over: Any) -> dict[str, Any]:
    return {"name": NAME, "image": IMAGE, "pools": ["ADA_48_PRO"], "excluded_types": [ADA6000],
            "min_cuda_version": "12.9", "env": {"PORT": "8000", "HF_TOKEN": HF_TOKEN}, **over}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.03, 0.06), image_cuda={IMAGE: "12.9"}, worker_init_s=0.05) as f:
        yield f


def host_env(fake: FakeRunPod, **extra: str) -> dict[str, str]:
    return {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": "0.02",
            "RUNPOD_RETRY_BACKOFF_S": "0.01", "RUNPOD_LANDING_GRACE_S": "0.5", "RUNPOD_STOP_TIMEOUT_S": "0.5",
            "RUNPOD_READ_TIMEOUT_S": "2",  # the grace after a lost create is at least the read timeout
            **extra}


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    with provider_host(EndpointProvider(), ENDPOINT_TYPE, env=host_env(fake)) as h:
        yield h


def create(host: Host, **over: Any) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check(props(**over))
    assert failures == []
    return host.create(inputs)


def update(host: Host, id_: str, outs: dict[str, Any], **over: Any) -> dict[str, Any]:
    news, failures = host.check(props(**over), olds=outs)
    assert failures == []
    return host.update(id_, outs, news)


def test_program_args_name_exactly_the_declared_inputs() -> None:
    assert [f.name for f in fields(EndpointArgs)] == [f.name for f in fields(EndpointSpec)]


# ---- check -----------------------------------------------------------------------------------------------------


def test_check_fills_every_scaling_default_without_calling_runpod(fake: FakeRunPod, host: Host) -> None:
    inputs, failures = host.check({"name": NAME, "image": IMAGE, "pools": ["ADA_48_PRO"], "min_cuda_version": "12.9"})
    assert failures == [] and fake.requests_log == []
    assert {k: inputs[k] for k in ("type", "workers_min", "workers_max", "idle_timeout_s", "request_count",
                                   "flashboot", "ports", "timeout_ms")} == {
        "type": "LOAD_BALANCER", "workers_min": 0, "workers_max": 2, "idle_timeout_s": 300, "request_count": 4,
        "flashboot": "FLASHBOOT", "ports": ["8000/http"], "timeout_ms": 330000}


def test_check_names_each_bad_property_and_its_setting(host: Host) -> None:
    _, failures = host.check(props(type="HTTP", pools=[], workers_max=0, request_count=0, idle_timeout_s=7200,
                                   flashboot="ON", min_cuda_version="13", excluded_types=["x", "x"]))
    reasons = dict(failures)
    assert set(reasons) == {"type", "pools", "workers_max", "request_count", "idle_timeout_s", "flashboot",
                            "min_cuda_version", "excluded_types"}
    assert reasons["type"] == "type must be LOAD_BALANCER or QUEUE"
    assert reasons["pools"].startswith("pools (autoglm-runpod:gpuTypes) must list")
    assert reasons["request_count"] == "request_count (autoglm-runpod:requestsPerWorker) must be a whole number ≥ 1"
    assert reasons["idle_timeout_s"] == ("idle_timeout_s (autoglm-runpod:idleTimeoutSeconds) must be a whole number "
                                         "from 1 to 3600")
    assert reasons["flashboot"].startswith("flashboot (autoglm-runpod:flashboot) must be OFF or FLASHBOOT")


def test_check_refuses_a_minimum_above_the_maximum(host: Host) -> None:
    _, failures = host.check(props(workers_min=3, workers_max=2))
    assert failures == [("workers_min", "workers_min (autoglm-runpod:workersMin) is 3, above workers_max "
                                        "(autoglm-runpod:workersMax) 2: RunPod keeps the minimum running and cannot "
                                        "run more than the maximum")]


def test_check_tolerates_unknowns_during_preview(host: Host) -> None:
    _, failures = host.check(props(image=rpc.UNKNOWN, pools=rpc.UNKNOWN, env={"HF_TOKEN": rpc.UNKNOWN}))
    assert failures == []


# ---- create ----------------------------------------------------------------------------------------------------


def test_create_sends_every_field_explicitly_with_the_cuda_floor(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host, network_volume_id="vol_abc123")
    (sent,) = [r.body for r in fake.calls("POST", "/v2/serverless")]
    assert sent == {
        "name": NAME, "type": "LOAD_BALANCER", "image": IMAGE, "ports": ["8000/http"],
        "env": {"PORT": "8000", "HF_TOKEN": HF_TOKEN}, "disk": 80,
        "gpu": {"pools": ["ADA_48_PRO"], "count": 1, "minCudaVersion": "12.9", "excludedTypes": [ADA6000]},
        "workers": {"min": 0, "max": 2, "idleTimeout": 300}, "scaling": {"type": "REQUEST_COUNT", "requestCount": 4},
        "flashboot": "FLASHBOOT", "timeout": 330000, "networkVolumes": ["vol_abc123"]}
    assert outs["endpoint_id"] == endpoint_id and outs["base_url"] == f"https://{endpoint_id}.api.runpod.ai"
    assert outs["health_url"] == outs["base_url"] + "/ping"
    assert list(fake.endpoints) == [endpoint_id]


def test_a_lost_create_answer_is_adopted_never_sent_twice(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 500, after_apply=True)
    endpoint_id, _ = create(host)
    assert list(fake.endpoints) == [endpoint_id] and len(fake.calls("POST", "/v2/serverless")) == 1
    assert "adopting it" in host.stderr()


def test_a_create_refused_with_5xx_is_retried_after_looking(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 503, times=2)
    endpoint_id, _ = create(host)
    assert list(fake.endpoints) == [endpoint_id]
    assert [r.status for r in fake.calls("POST", "/v2/serverless")] == [503, 503, 201]
    assert len(fake.calls("GET", "/v2/serverless")) >= 3, "a look before the first POST, and after each failure"


def test_rate_limits_are_waited_out(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 429, retry_after=1)
    create(host)
    assert [r.status for r in fake.calls("POST", "/v2/serverless")] == [429, 201] and len(fake.endpoints) == 1


def test_creates_that_keep_failing_leave_nothing_and_say_so(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 500, times=3)
    with pytest.raises(HostError, match=r"RunPod failed 3 create\(s\) of endpoint .*no endpoint named") as caught:
        create(host)
    assert caught.value.message.startswith("components.providers.endpoint_rules.EndpointError")
    assert fake.endpoints == {}


def test_an_endpoint_made_without_the_cuda_floor_is_deleted_and_refused(fake: FakeRunPod, host: Host) -> None:
    fake.fleet.keeps_min_cuda = False  # what an older contract did with gpu.minCudaVersion
    with pytest.raises(HostError, match=r"did not keep the CUDA floor .*12\.9.*was deleted, so nothing bills"):
        create(host, workers_min=1)
    assert fake.endpoints == {} and len(fake.calls("DELETE", "/v2/serverless/.+")) == 1


def test_a_refused_create_names_runpods_reason_and_scrubs_the_env(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 400, detail="invalid request", echo_env=True)
    with pytest.raises(HostError) as caught:
        create(host)
    assert "400 Bad Request: invalid request" in caught.value.message
    assert "nothing was created. Check autoglm-runpod:workersMax" in caught.value.message
    assert HF_TOKEN not in caught.value.details and HF_TOKEN not in host.stderr()
    assert fake.endpoints == {}


# ---- update, replace, refresh ----------------------------------------------------------------------------------


def test_a_new_workers_max_is_patched_in_place(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    news, _ = host.check(props(workers_max=5), olds=outs)
    diff = host.diff(endpoint_id, outs, news)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    updated = host.update(endpoint_id, outs, news)
    (patch,) = [r.body for r in fake.calls("PATCH", "/v2/serverless/.+")]
    assert patch == {"workers": {"min": 0, "max": 5, "idleTimeout": 300}}
    assert updated["workers_max"] == 5 and fake.endpoints[endpoint_id].scaling["max"] == 5


def test_dropping_the_exclusions_sends_the_pools_alone_which_clears_them(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    update(host, endpoint_id, outs, excluded_types=[], pools=["ADA_48_PRO", "ADA_80_PRO"])
    (patch,) = [r.body for r in fake.calls("PATCH", "/v2/serverless/.+")]
    assert patch == {"gpu": {"pools": ["ADA_48_PRO", "ADA_80_PRO"]}}
    assert fake.endpoints[endpoint_id].body["gpu"]["excludedTypes"] == []


def test_a_type_change_replaces_and_the_predecessor_is_never_adopted(fake: FakeRunPod, host: Host) -> None:
    old_id, outs = create(host)
    news, _ = host.check(props(type="QUEUE"), olds=outs)
    assert list(host.diff(old_id, outs, news).replaces) == ["type"]
    fake.inject("POST", "/v2/serverless", 500, after_apply=True)  # the replacement's answer is lost
    new_id, new_outs = host.create(host.check(props(type="QUEUE"))[0])
    assert new_id != old_id and {e.id for e in fake.endpoints_named(NAME)} == {old_id, new_id}
    assert "idleTimeout" not in fake.calls("POST", "/v2/serverless")[-1].body["workers"]
    host.delete(old_id, outs)
    assert list(fake.endpoints) == [new_id] and new_outs["type"] == "QUEUE"


def test_refresh_records_workers_max_runpod_lowered_and_the_next_up_restores_it(fake: FakeRunPod,
                                                                                host: Host) -> None:
    endpoint_id, outs = create(host)
    fake.lower_workers_max(endpoint_id, 0)
    read_id, live, inputs = host.read_live(endpoint_id, outs, outs)
    assert read_id == endpoint_id and live["workers_max"] == 0 and inputs is not None and inputs["workers_max"] == 0
    assert host.logged("RunPod lowered workers.max from 2 to 0")
    news, _ = host.check(props(), olds=inputs)
    assert host.diff(endpoint_id, live, news).changes == provider_pb2.DiffResponse.DIFF_SOME
    restored = host.update(endpoint_id, live, news, old_inputs=inputs)
    assert restored["workers_max"] == 2 and fake.endpoints[endpoint_id].scaling["max"] == 2
    assert host.logged("workers.max is 0 at RunPod (lowered outside this stack")


def test_refresh_of_a_deleted_endpoint_drops_it(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    fake.fleet.remove(fake.endpoints[endpoint_id])
    assert host.read(endpoint_id, outs)[0] == ""


def test_update_of_an_endpoint_gone_outside_the_stack_says_to_refresh(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    fake.fleet.remove(fake.endpoints[endpoint_id])
    with pytest.raises(HostError, match="no longer exists: run `pulumi refresh`"):
        update(host, endpoint_id, outs, workers_max=3)


# ---- delete ----------------------------------------------------------------------------------------------------


def test_delete_is_idempotent_and_ends_the_workers(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host, workers_min=1)
    host.delete(endpoint_id, outs)
    assert fake.endpoints == {} and all(h.free_gpus == 8 for h in fake.hosts)
    host.delete(endpoint_id, outs)
    assert host.logged(f"endpoint {endpoint_id} was already gone")


def test_a_delete_answered_500_is_confirmed_by_reading_back(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    fake.inject("DELETE", "/v2/serverless/.+", 500, times=2)
    host.delete(endpoint_id, outs)
    assert fake.endpoints == {}
    fake2_id, outs2 = create(host)
    fake.inject("DELETE", "/v2/serverless/.+", 500, after_apply=True)
    host.delete(fake2_id, outs2)
    assert fake.endpoints == {}


def test_a_delete_that_keeps_failing_keeps_the_endpoint_and_says_it_may_bill(fake: FakeRunPod, host: Host) -> None:
    endpoint_id, outs = create(host)
    fake.inject("DELETE", "/v2/serverless/.+", 500, times=1000)
    with pytest.raises(HostError, match=r"deleting endpoint .* failed .*may still exist.*bill"):
        host.delete(endpoint_id, outs)
    assert list(fake.endpoints) == [endpoint_id]


def test_inputs_schema_names_each_setting_once() -> None:
    settings = {k: ENDPOINT_INPUTS.setting(k) for k in ENDPOINT_INPUTS.keys}
    assert settings["workers_max"] == "autoglm-runpod:workersMax"
    assert settings["request_count"] == "autoglm-runpod:requestsPerWorker"
    assert ENDPOINT_INPUTS.replace_keys == frozenset({"type"})


def test_a_lost_create_while_listing_fails_sends_no_second_create(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/serverless", 500, after_apply=True, delay_s=0.5)
    inputs, _ = host.check(props())
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(host.create, inputs)
        deadline = time.monotonic() + 10
        while not fake.endpoints:  # RunPod made it; its answer (a 500) is still to come
            assert time.monotonic() < deadline
            time.sleep(0.01)
        fake.inject("GET", "/v2/serverless", 503, times=10_000)
        with pytest.raises(HostError, match=r"listing endpoints failed .* whether it made one is unknown; no "
                                            r"other create was sent"):
            creating.result(timeout=60)
    assert len(fake.calls("POST", "/v2/serverless")) == 1 and len(fake.endpoints) == 1
