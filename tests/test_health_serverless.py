"""The health check of a serverless endpoint, through the SDK's real provider host: through the fake's load
balancer with the RunPod key (read from the provider's environment, never an input), waking a worker, watching
the workers while it waits, and failing with the reason and the fix on UNHEALTHY or THROTTLED workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from components.health import HealthCheckProvider
from components.runpod import RunPodClient
from tests.fakes.runpod import FakeRunPod, LoadBalancer
from tests.fakes.vllm import FakeVllm
from tests.provider_host import Host, HostError, provider_host

TOKEN = "pulumi-python:dynamic/vllm:HealthCheck"
L40S = "NVIDIA L40S"
IMAGE = "ghcr.io/acme/autoglm-vllm@sha256:" + "b" * 64


@dataclass
class Serverless:
    fake: FakeRunPod
    balancer: LoadBalancer
    vllm: FakeVllm
    endpoint_id: str

    def props(self, **over: Any) -> dict[str, Any]:
        return {"base_url": self.balancer.url(self.endpoint_id) + "/v1", "served_model_name": "autoglm-phone-9b",
                "timeout_s": 10, "triggers": [self.endpoint_id, IMAGE], "endpoint_id": self.endpoint_id, **over}


@pytest.fixture
def world() -> Iterator[Serverless]:
    with FakeRunPod(image_cuda={IMAGE: "12.9"}, worker_init_s=0.2) as fake, FakeVllm(load_delay_s=0.3) as vllm:
        client = RunPodClient(fake.api_key, fake.base_url)
        made = client.endpoints.create({
            "name": "autoglm-runpod-dev-autoglm-endpoint", "type": "LOAD_BALANCER", "image": IMAGE,
            "gpu": {"pools": ["ADA_48_PRO"], "minCudaVersion": "12.9"}, "workers": {"min": 0, "max": 2,
                                                                                   "idleTimeout": 60},
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 4}, "flashboot": "FLASHBOOT"})
        yield Serverless(fake, fake.balancer(vllm.base_url), vllm, made.id)


def env(world: Serverless, key: str | None = None) -> dict[str, str]:
    return {"RUNPOD_API_URL": world.fake.base_url, "RUNPOD_API_KEY": world.fake.api_key if key is None else key,
            "RUNPOD_POLL_INTERVAL_S": "0.05", "AUTOGLM_HEALTH_POLL_S": "0.05"}


@pytest.fixture
def host(world: Serverless) -> Iterator[Host]:
    with provider_host(HealthCheckProvider(), TOKEN, env=env(world)) as h:
        yield h


def test_wakes_a_worker_and_proves_the_endpoint_answers_with_the_runpod_key(world: Serverless, host: Host) -> None:
    inputs, failures = host.check(world.props())
    assert failures == []
    _, outs = host.create(inputs)
    assert outs["status"] == "healthy" and outs["served_model"] == "autoglm-phone-9b"
    statuses = [r.status for r in world.balancer.routed(world.endpoint_id)]
    assert statuses[0] == 400 and statuses[-1] == 200, "no worker at first: the first /ping woke one"
    chats = world.vllm.requests_to("/v1/chat/completions")
    assert len(chats) == 2 and chats[1].images
    routed = [r for r in world.vllm.requests if r.path.startswith("/v1/")]
    assert routed and all(r.headers["authorization"] == f"Bearer {world.fake.api_key}" for r in routed)
    log = host.stderr()
    assert "GET /ping" not in log and "workers: 1 INITIALIZING (on NVIDIA L40S in US-TX-3)" in log
    assert world.fake.api_key not in log and world.fake.api_key not in str(outs)


def test_unhealthy_workers_fail_at_once_with_their_log_and_the_command(world: Serverless, host: Host) -> None:
    world.fake.next_workers("unhealthy", 2)
    with pytest.raises(HostError) as caught:
        host.create(host.check(world.props(timeout_s=30))[0])
    message = caught.value.message
    worker = next(w for w in world.fake.workers_of(world.endpoint_id) if f"worker {w.id} " in message)
    assert worker.status == "UNHEALTHY"
    assert f"worker {worker.id} of endpoint {world.endpoint_id} on {L40S} in US-TX-3 is UNHEALTHY" in message
    assert "its system log ends: " in message and "answered 503" in message
    assert f"python -m components.logs --endpoint {world.endpoint_id} --worker {worker.id}" in message


def test_an_unhealthy_worker_log_that_prints_the_env_is_quoted_without_its_values(world: Serverless,
                                                                                  host: Host) -> None:
    token = "hf_DO_NOT_PRINT_abcdefghijklmnop"
    client = RunPodClient(world.fake.api_key, world.fake.base_url)
    client.endpoints.update(world.endpoint_id, {"env": {"HF_TOKEN": token, "SERVED_MODEL_NAME": "autoglm-phone-9b"}})
    world.fake.next_workers("echo_env", 2)
    with pytest.raises(HostError) as caught:
        host.create(host.check(world.props(timeout_s=30))[0])
    message = caught.value.message
    assert "its system log ends: " in message and "start.sh: HF_TOKEN=***" in message
    assert token not in caught.value.details and token not in host.stderr()


def test_workers_throttled_past_the_deadline_fail_saying_what_to_change(world: Serverless, host: Host) -> None:
    world.fake.set_free_gpus(L40S, 0)
    world.fake.set_free_gpus("NVIDIA RTX 6000 Ada Generation", 0)
    with pytest.raises(HostError) as caught:
        host.create(host.check(world.props(timeout_s=1.5))[0])
    message = caught.value.message
    assert "did not become ready within 1.5 s" in message and "workers: 1 THROTTLED" in message
    assert "stayed THROTTLED" in message and "autoglm-runpod:gpuTypes" in message
    assert "autoglm-runpod:healthTimeoutMinutes" in message


def test_a_refused_runpod_key_fails_at_once_without_showing_it(world: Serverless) -> None:
    wrong = "rpa_WRONGKEY0123456789"
    with provider_host(HealthCheckProvider(), TOKEN, env=env(world, key=wrong)) as host, \
            pytest.raises(HostError) as caught:
        host.create(host.check(world.props())[0])
    assert "GET /ping answered 401" in caught.value.message and "RUNPOD_API_KEY" in caught.value.message
    assert wrong not in caught.value.details


def test_no_runpod_key_at_all_is_named(world: Serverless) -> None:
    bare = {k: v for k, v in env(world).items() if k != "RUNPOD_API_KEY"}
    with provider_host(HealthCheckProvider(), TOKEN, env={**bare, "RUNPOD_API_KEY": ""}) as host, \
            pytest.raises(HostError, match="no RunPod API key: the health check of serverless endpoint"):
        host.create(host.check(world.props())[0])
    assert world.balancer.routed(world.endpoint_id) == []
