"""A simulated `pulumi up` / `pulumi destroy` of the whole stack, end to end, against loopback fakes.

`__main__.py` runs under Pulumi mocks; the image facts, the pod and the health check go through the SDK's real
provider host to a real registry on loopback and the RunPod and vLLM fakes (tests/engine.py, which follows the
engine's order: preview before up, a fresh host per command), in the world of tests/stack_world.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine import SimulatedStack
from tests.registry import LocalRegistry, cuda_image
from tests.stack_world import (
    COMMAND,
    CU13_IMAGE,
    CU13_REPO,
    DEV,
    DIGEST,
    FACTS,
    HEALTH,
    POD,
    PROD,
    REPO,
    World,
    ops,
    running_world,
)


@pytest.fixture
def world(registry: LocalRegistry, tmp_path: Path) -> Iterator[World]:
    with running_world(registry, tmp_path) as world:
        yield world


def up(stack: SimulatedStack) -> dict[str, Any]:
    return stack.up()


def preview(stack: SimulatedStack) -> None:
    stack.preview()


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


def test_preview_checks_inputs_and_calls_no_api(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    dev = world.stack("dev", DEV)
    preview(dev)
    assert ops(dev, POD) == ["check"] and ops(dev, HEALTH) == ["check"]
    assert world.runpod.requests_log == [] and world.vllm.requests == [] and dev.state == {}
    warned = [r.getMessage() for r in caplog.records if "no registryAuthId" in r.getMessage()]
    assert len(warned) == 1 and "ghcr.io/acme/autoglm-vllm" in warned[0], "ghcr.io makes a new package private"


def test_preview_of_prod_before_dev_verified_anything_fails_with_the_fix(world: World) -> None:
    world.stack("dev", DEV)  # `pulumi stack init dev`: the stack exists, nothing deployed
    prod = world.stack("prod", PROD)
    with pytest.raises(Exception, match=r"has no verified image.*Run `pulumi up` on it"):
        preview(prod)
    assert world.runpod.requests_log == []


# ---- the CUDA floor comes from the image, and an image RunPod cannot pull costs nothing ---------------------------


def test_an_image_that_says_cuda_13_gets_a_cuda_13_host_though_the_table_said_12_9(world: World) -> None:
    dev = world.stack("dev", DEV | {"imageRepository": CU13_REPO}, digest=CU13_IMAGE.digest)
    out = up(dev)

    created = world.runpod.calls("POST", "/v2/pods")[0].body
    assert created["gpu"]["minCudaVersion"] == "13.0", "the image's own gate, not the table's 12.9"
    assert out["host_cuda_version"] == "13.0" and out["health"]["status"] == "healthy"
    assert out["plan"]["cuda_floor"] == "12.9" and out["image_cuda"]["cuda_floor"] == "13.0"
    assert "the compatibility table says CUDA 12.9 for vLLM 0.12.0: the image wins" in dev.log
    dev.destroy()
    assert world.runpod.billing_pods() == []


def test_prod_reads_the_promoted_digest_before_its_pod(world: World) -> None:
    up(world.stack("dev", DEV))
    prod = world.stack("prod", PROD)
    up(prod)
    facts = prod.record(FACTS, "autoglm-image-facts")
    assert facts.outs["cuda_floor"] == "12.9" and facts.outs["image"].endswith(f"/acme/autoglm-vllm@{DIGEST}")
    assert [s.op for s in prod.steps if s.typ in (FACTS, POD)] == ["create", "create"]


def test_a_missing_image_config_fails_before_any_pod_exists(world: World) -> None:
    broken = cuda_image(index=False, name="broken")
    world.registry.tokens.public.add("acme/broken-vllm")
    world.registry.push("acme/broken-vllm", broken)
    world.registry.delete_blob("acme/broken-vllm", broken.blobs[0].digest)
    dev = world.stack("dev", DEV | {"imageRepository": "ghcr.io/acme/broken-vllm"}, digest=broken.digest)
    with pytest.raises(Exception, match=r"before anything runs it, reading .*broken-vllm.* failed: .*404"):
        up(dev)
    assert world.runpod.calls("POST", "/v2/pods") == [] and world.runpod.billing_pods() == []
    assert (POD, "autoglm-pod") not in dev.state


def test_a_private_ghcr_image_without_registry_auth_id_fails_before_billing(world: World) -> None:
    digest = world.registry.push("acme/private-e2e", cuda_image(name="private-e2e"))
    dev = world.stack("dev", DEV | {"imageRepository": "ghcr.io/acme/private-e2e"}, digest=digest)
    with pytest.raises(Exception, match=r"autoglm-runpod:registryAuthId is not set.*make the image public"):
        up(dev)
    assert world.runpod.calls("POST", "/v2/pods") == [] and world.runpod.billing_pods() == []

    dev.config["registryAuthId"] = "cred_01"  # a RunPod credential; this machine's `docker login` reads the config
    out = up(dev)
    (created,) = world.runpod.calls("POST", "/v2/pods")
    assert created.body["registry"] == "cred_01" and created.body["gpu"]["minCudaVersion"] == "12.9"
    assert out["image_cuda"]["anonymous_pull"] is False
    dev.destroy()


def test_preview_reads_no_registry_and_keeps_the_tables_floor(world: World) -> None:
    asked = len(world.registry.tokens.requests)
    dev = world.stack("dev", DEV | {"vllmVersion": "0.34.0"})
    preview(dev)
    assert ops(dev, FACTS) == ["check"] and len(world.registry.tokens.requests) == asked
    assert world.runpod.requests_log == []
    (pod,) = [r for r in dev.mocks.resources if r.typ == POD]
    assert pod.inputs["min_cuda_version"] == "13.0", "the table's floor for 0.34.0 stands in at preview"
