"""A simulated `pulumi up` / `pulumi destroy` of the whole stack, end to end, against loopback fakes.

`__main__.py` runs under Pulumi mocks; the pod and the health check go through the SDK's real provider host to
the RunPod and vLLM fakes (tests/engine.py). The fake RunPod lists a 12.8-driver host first for every GPU type,
and the built image demands CUDA 12.9 there: only the pod's CUDA floor keeps it off the old host. The fake vLLM
stands in for the pod's proxy URL and enforces the key the fake RunPod received in the pod's environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest

from tests.engine import SimulatedStack
from tests.fakes.runpod import FakeRunPod, Timings
from tests.fakes.vllm import FakeVllm
from tests.provider_host import Host, provider_host

POD = "pulumi-python:dynamic/runpod:Pod"
HEALTH = "pulumi-python:dynamic/vllm:HealthCheck"
COMMAND = "command:local:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
REPO = "ghcr.io/acme/autoglm-vllm"
DIGEST = "sha256:" + "5e" * 32
DEV = {"gpuTypes": ["NVIDIA L40S"], "imageRepository": REPO, "healthTimeoutMinutes": "1"}
PROD = {"gpuTypes": ["NVIDIA H100 PCIe"], "promoteFrom": "dev", "healthTimeoutMinutes": "1"}


@dataclass
class World:
    runpod: FakeRunPod
    vllm: FakeVllm
    host: Host
    other_stacks: dict[str, dict[str, Any]]

    def stack(self, name: str, config: dict[str, Any]) -> SimulatedStack:
        stack = SimulatedStack(name, self.host, dict(config), rewrite_inputs=self.route_to_vllm,
                               other_stacks=self.other_stacks)
        metadata = json.dumps({"containerimage.digest": DIGEST})
        stack.hooks[COMMAND] = lambda args: {"stdout": f"#1 building\n--- buildx metadata ---\n{metadata}"}
        stack.hooks[PASSWORD] = lambda args: {"result": f"generated-{name}-key-{'x' * 30}"}
        return stack

    def route_to_vllm(self, typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """What DNS and the RunPod proxy do: the pod's URL reaches its server, which knows the pod's key."""
        pod_id = inputs.get("triggers", [None])[0]
        if typ != HEALTH or pod_id not in self.runpod.pods:  # preview: the pod id is not known yet
            return inputs
        pod = self.runpod.pods[pod_id]
        self.vllm.behaviour.api_key = pod.env.get("VLLM_API_KEY")
        return {**inputs, "base_url": self.vllm.v1_url}


@pytest.fixture
def world() -> Iterator[World]:
    image_cuda = {f"{REPO}@{DIGEST}": "12.9"}
    env = {"AUTOGLM_HEALTH_POLL_S": "0.05", "RUNPOD_POLL_INTERVAL_S": "0.02"}
    with FakeRunPod(image_cuda=image_cuda, timings=Timings(0.05, 0.1)) as runpod, \
            FakeVllm(load_delay_s=0.3) as vllm, \
            provider_host(None, POD, env={**env, "RUNPOD_API_URL": runpod.base_url,
                                          "RUNPOD_API_KEY": runpod.api_key}) as host:
        yield World(runpod, vllm, host, {})


def up(stack: SimulatedStack) -> dict[str, Any]:
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        return stack.up().apply(outputs.update)

    run()
    return outputs


def preview(stack: SimulatedStack) -> None:
    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        return stack.preview()

    run()


def ops(stack: SimulatedStack, typ: str) -> list[str]:
    return [s.op for s in stack.steps if s.typ == typ]


def test_dev_up_then_destroy(world: World) -> None:
    dev = world.stack("dev", DEV)
    out = up(dev)

    (pod,) = world.runpod.live_pods()
    assert out["pod_id"] == pod.id and pod.name == "autoglm-runpod-dev-autoglm-pod"
    assert out["base_url"] == f"https://{pod.id}-8000.proxy.runpod.net/v1"
    assert out["gpu_type"] == "NVIDIA L40S"
    assert out["host_cuda_version"] == "12.9", "the CUDA floor kept the pod off the 12.8 host listed first"
    assert out["cost_per_hour"] == pytest.approx(0.86)
    assert out["image_ref"] == out["verified_image_ref"] == f"{REPO}@{DIGEST}"
    assert pod.image == out["image_ref"] and pod.ports == ["8000/http"]
    created = world.runpod.calls("POST", "/v2/pods")[0].body
    assert created["gpu"]["minCudaVersion"] == "12.9"

    key = out["vllm_api_key"]
    assert pod.env["VLLM_API_KEY"] == key
    assert out["client_command"] == (f"python main.py --base-url {out['base_url']} --model autoglm-phone-9b "
                                     f"--apikey {key}")
    chats = world.vllm.requests_to("/v1/chat/completions")
    assert len(chats) == 2 and all(r.headers.get("authorization") == f"Bearer {key}" for r in chats)
    assert chats[1].images, "the second chat carries an image, as the phone agent's do"
    assert out["health"]["status"] == "healthy" and out["health"]["served_model"] == "autoglm-phone-9b"

    dev.destroy()
    assert world.runpod.billing_pods() == [] and world.runpod.live_pods() == []


def test_second_up_changes_nothing_and_keeps_the_key(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = up(dev)
    second = up(dev)
    assert second["vllm_api_key"] == first["vllm_api_key"] and second["pod_id"] == first["pod_id"]
    assert ops(dev, POD) == ["same"] and ops(dev, HEALTH) == ["same"]
    assert len(world.runpod.calls("POST", "/v2/pods")) == 1
    dev.destroy()


def test_prod_promotes_the_digest_dev_verified(world: World) -> None:
    dev = world.stack("dev", DEV)
    dev_out = up(dev)
    prod = world.stack("prod", PROD)
    prod_out = up(prod)

    assert prod_out["image_ref"] == dev_out["verified_image_ref"]
    assert prod_out["gpu_type"] == "NVIDIA H100 PCIe" and prod_out["host_cuda_version"] == "12.9"
    assert prod_out["verified_image_ref"] == dev_out["verified_image_ref"]
    assert prod_out["vllm_api_key"] != dev_out["vllm_api_key"], "each stack has its own key"
    assert [r for r in prod.mocks.resources if r.typ == COMMAND] == [], "prod builds nothing"
    assert {p.name for p in world.runpod.live_pods()} == {"autoglm-runpod-dev-autoglm-pod",
                                                          "autoglm-runpod-prod-autoglm-pod"}
    dev.destroy()
    prod.destroy()
    assert world.runpod.billing_pods() == []


def test_failing_health_check_keeps_the_pod_in_state_and_says_why(world: World) -> None:
    world.vllm.behaviour.dead_engine = True
    dev = world.stack("dev", DEV)
    with pytest.raises(Exception, match="chat") as failure:
        up(dev)
    assert "500" in str(failure.value) or "engine" in str(failure.value).lower()
    record = dev.record(POD, "autoglm-pod")
    assert [p.id for p in world.runpod.billing_pods()] == [record.id], "the pod is in state, not leaked"
    assert (HEALTH, "autoglm-health") not in dev.state

    world.vllm.behaviour.dead_engine = False
    out = up(dev)  # the next up retries the check against the same pod
    assert out["pod_id"] == record.id and out["health"]["status"] == "healthy"
    dev.destroy()
    assert world.runpod.billing_pods() == []


def test_stop_then_start_in_place(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = up(dev)
    chats_before = len(world.vllm.requests_to("/v1/chat/completions"))

    dev.config["running"] = "false"
    stopped = up(dev)
    assert ops(dev, POD) == ["update"] and stopped["pod_id"] == first["pod_id"]
    assert world.runpod.status_of(first["pod_id"]) == "EXITED" and world.runpod.billing_pods() == []
    assert stopped["health"]["status"] == "skipped" and stopped["verified_image_ref"] is None
    assert stopped["base_url"] == first["base_url"], "the URL stays known while stopped"
    assert len(world.vllm.requests_to("/v1/chat/completions")) == chats_before, "no probe of a stopped pod"

    dev.config["running"] = "true"
    started = up(dev)
    assert ops(dev, POD) == ["update"] and started["pod_id"] == first["pod_id"]
    assert world.runpod.status_of(first["pod_id"]) == "RUNNING"
    assert started["health"]["status"] == "healthy" and started["verified_image_ref"] == first["image_ref"]
    assert len(world.vllm.requests_to("/v1/chat/completions")) > chats_before, "the check ran again"
    dev.destroy()
    assert world.runpod.billing_pods() == []


def test_bad_setting_fails_before_any_api_call(world: World) -> None:
    dev = world.stack("dev", DEV | {"gpuTypes": ["RTX 4090"]})
    with pytest.raises(Exception, match=r"autoglm-runpod:gpuTypes: .*not enough VRAM"):
        up(dev)
    assert world.runpod.requests_log == [] and dev.state == {}


def test_preview_checks_inputs_and_calls_no_api(world: World) -> None:
    dev = world.stack("dev", DEV)
    preview(dev)
    assert ops(dev, POD) == ["check"] and ops(dev, HEALTH) == ["check"]
    assert world.runpod.requests_log == [] and world.vllm.requests == [] and dev.state == {}


def test_preview_of_prod_before_dev_verified_anything_fails_with_the_fix(world: World) -> None:
    prod = world.stack("prod", PROD)
    with pytest.raises(Exception, match=r"has no verified image.*Run `pulumi up` on it"):
        preview(prod)
    assert world.runpod.requests_log == []
