"""The whole stack through the lifecycle the simulated engine now follows (tests/engine.py): a replacement whose
health check fails, `refresh` then `up`, `destroy` after the RunPod key was rotated, `up --replace`, and secrets
in state. The world is tests/stack_world.py: fake RunPod and vLLM on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.runpod import RunPodClient
from tests.engine_values import is_secret
from tests.registry import LocalRegistry
from tests.stack_world import DEV, HEALTH, IMAGE, PASSWORD, POD, PROD, World, ops, running_world

SERVICE = "autoglm:index:Service"
POD_URN = f"urn:pulumi:dev::autoglm-runpod::{SERVICE}${POD}::autoglm-pod"
PASSWORD_URN = f"urn:pulumi:dev::autoglm-runpod::{SERVICE}${PASSWORD}::autoglm-vllm-api-key"


@pytest.fixture
def world(registry: LocalRegistry, tmp_path: Path) -> Iterator[World]:
    with running_world(registry, tmp_path) as world:
        yield world


def given_image(image: str) -> dict[str, Any]:
    """A stack that runs a ready image (`image`) instead of building one."""
    return {k: v for k, v in {**DEV, "image": image}.items() if k != "imageRepository"}


# ---- a replacement that fails its health check ---------------------------------------------------------------

def test_a_failed_replacement_keeps_the_old_pod_serving_and_the_new_one_in_state(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    old = first["pod_id"]

    world.vllm.behaviour.dead_engine = True
    dev.config["containerDiskGb"] = "90"  # a new pod is needed
    with pytest.raises(Exception, match="chat"):
        dev.up()
    new = dev.record(POD, "autoglm-pod").id
    assert new != old and [r.id for r in dev.pending_deletes] == [old], "the old pod waits for a successful up"
    assert {p.id for p in world.runpod.billing_pods()} == {old, new}, "both bill until then"
    assert world.runpod.status_of(old) == "RUNNING"
    assert dev.record(HEALTH, "autoglm-health").inputs["triggers"][0] == old, "the check still vouches for the old pod"
    assert dev.outputs["pod_id"] == old and dev.outputs["base_url"] == first["base_url"], "outputs: the old pod"

    world.vllm.behaviour.dead_engine = False
    out = dev.up()
    assert out["pod_id"] == new and out["health"]["status"] == "healthy"
    assert ops(dev, POD) == ["same", "delete-replaced"] and ops(dev, HEALTH) == ["update"]
    assert [p.id for p in world.runpod.billing_pods()] == [new] and dev.pending_deletes == []
    dev.destroy()
    assert world.runpod.live_pods() == []


def test_a_replacement_pod_that_fails_to_start_leaves_the_old_pod_alone(world: World) -> None:
    dev = world.stack("dev", DEV)
    old = dev.up()["pod_id"]
    world.runpod.next_pods("error")  # the new pod's container dies
    dev.config["containerDiskGb"] = "90"
    with pytest.raises(Exception, match="turned ERROR"):
        dev.up()
    assert dev.record(POD, "autoglm-pod").id == old and dev.pending_deletes == []
    assert [p.id for p in world.runpod.billing_pods()] == [old], "the failed pod was terminated, the old one serves"
    assert ops(dev, POD) == ["replace"] and dev.steps[-1].failed
    dev.destroy()


def test_destroy_after_a_failed_replacement_ends_both_pods(world: World) -> None:
    dev = world.stack("dev", DEV)
    dev.up()
    world.vllm.behaviour.dead_engine = True
    dev.config["containerDiskGb"] = "90"
    with pytest.raises(Exception, match="chat"):
        dev.up()
    assert len(world.runpod.billing_pods()) == 2
    dev.destroy()
    assert world.runpod.live_pods() == [] and dev.state == {} and dev.pending_deletes == []
    assert ops(dev, POD) == ["delete", "delete"]


# ---- preview before up, with unknowns ------------------------------------------------------------------------

def test_a_new_image_is_previewed_with_unknowns_then_replaces_the_pod(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    dev.config["imageRepository"] = "ghcr.io/acme/autoglm-vllm-next"  # a rebuild: the ref is unknown at preview
    out = dev.up()
    assert [(s.op, s.plan) for s in dev.preview_steps if s.typ in (POD, HEALTH)] == [
        ("diff", "replace"), ("diff", "update")], "Check and Diff ran on the unknown image and pod id"
    assert out["image_ref"].startswith("ghcr.io/acme/autoglm-vllm-next@") and out["pod_id"] != first["pod_id"]
    assert ops(dev, POD) == ["replace", "delete-replaced"]
    assert [p.id for p in world.runpod.billing_pods()] == [out["pod_id"]]
    dev.destroy()


# ---- refresh, then up ----------------------------------------------------------------------------------------

def test_refresh_then_up_changes_nothing(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    dev.refresh()
    assert ops(dev, POD) == ["refresh"] and dev.record(POD, "autoglm-pod").outs["status"] == "RUNNING"
    again = dev.up()
    assert ops(dev, POD) == ["same"] and ops(dev, HEALTH) == ["same"]
    assert again["pod_id"] == first["pod_id"] and len(world.runpod.calls("POST", "/v2/pods")) == 1
    dev.destroy()


EQUIVALENT_SPELLINGS = [
    ("vllm/vllm-openai:v0.12.0", "docker.io/vllm/vllm-openai:v0.12.0"),
    ("vllm/vllm-openai:v0.12.0", "index.docker.io/vllm/vllm-openai:v0.12.0"),
    ("docker.io/vllm/vllm-openai:v0.12.0", "vllm/vllm-openai:v0.12.0"),
    (f"vllm/vllm-openai:v0.12.0@{IMAGE.digest}", f"vllm/vllm-openai@{IMAGE.digest}"),
]


@pytest.mark.parametrize(("declared", "reported"), EQUIVALENT_SPELLINGS,
                         ids=["docker.io prefix", "index.docker.io prefix", "prefix dropped", "tag and digest"])
def test_refresh_never_turns_an_equivalent_image_spelling_into_a_replacement(world: World, declared: str,
                                                                            reported: str) -> None:
    world.runpod.image_spelling = lambda image: reported if image == declared else image
    dev = world.stack("dev", given_image(declared))
    first = dev.up()
    dev.refresh()
    again = dev.up()
    assert ops(dev, POD) == ["same"], "RunPod's spelling of the same image is no change"
    assert again["pod_id"] == first["pod_id"] and len(world.runpod.calls("POST", "/v2/pods")) == 1
    dev.destroy()


def test_refresh_keeps_an_image_really_changed_outside_as_drift(world: World) -> None:
    world.runpod.image_spelling = lambda image: "vllm/vllm-openai:v0.11.0"  # someone edited the pod
    dev = world.stack("dev", given_image("vllm/vllm-openai:v0.12.0"))
    dev.up()
    dev.refresh()
    assert dev.record(POD, "autoglm-pod").inputs["image"] == "vllm/vllm-openai:v0.11.0"
    world.runpod.image_spelling = lambda image: image
    dev.up()
    assert ops(dev, POD) == ["replace", "delete-replaced"], "the next up puts the declared image back"
    dev.destroy()


def test_refresh_drops_a_pod_terminated_outside_and_up_creates_another(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    world.runpod.terminate_out_of_band(first["pod_id"])
    dev.refresh()
    assert (POD, "autoglm-pod") not in dev.state
    out = dev.up()
    assert ops(dev, POD) == ["create"] and ops(dev, HEALTH) == ["update"]
    assert out["pod_id"] != first["pod_id"] and out["health"]["status"] == "healthy"
    dev.destroy()
    assert world.runpod.live_pods() == []


def test_refresh_records_a_pod_in_error_and_the_next_up_starts_it_again(world: World) -> None:
    dev = world.stack("dev", DEV)
    pod_id = dev.up()["pod_id"]
    world.runpod.pods[pod_id].fate = "error"  # its container dies for good
    world.runpod.stop_out_of_band(pod_id)
    RunPodClient(world.runpod.api_key, world.runpod.base_url).pods.action(pod_id, "start")
    deadline = time.monotonic() + 10
    while world.runpod.status_of(pod_id) != "ERROR" and time.monotonic() < deadline:
        time.sleep(0.02)
    dev.refresh()
    assert dev.record(POD, "autoglm-pod").outs["status"] == "ERROR"

    world.runpod.pods[pod_id].fate = "ok"
    out = dev.up()
    assert ops(dev, POD) == ["update"] and out["pod_id"] == pod_id and out["pod_status"] == "RUNNING"
    dev.destroy()


# ---- a destroy RunPod does not confirm ----------------------------------------------------------------------

def test_a_destroy_runpod_does_not_confirm_fails_keeps_the_pod_and_the_next_one_ends_it(world: World) -> None:
    dev = world.stack("dev", DEV)
    pod = dev.up()["pod_id"]
    world.runpod.inject("DELETE", f"/v2/pods/{pod}", 500, times=1000)
    with pytest.raises(Exception, match="RunPod still shows it RUNNING"):
        dev.destroy(env={"RUNPOD_STOP_TIMEOUT_S": "0.5"})
    assert dev.record(POD, "autoglm-pod").id == pod and world.runpod.status_of(pod) == "RUNNING"
    world.runpod.faults.clear()
    dev.destroy()  # running it again retries
    assert world.runpod.live_pods() == [] and dev.state == {}


# ---- destroy after the RunPod key was rotated ----------------------------------------------------------------

OLD_KEY, NEW_KEY = "rp_old_key_0123456789", "rp_new_key_9876543210"


def keyed_in_config(world: World) -> Any:
    """A stack whose RunPod key is in its config (a secret), with none in the environment; RunPod knows it."""
    world.runpod.api_key = OLD_KEY
    env = {k: v for k, v in world.env.items() if k != "RUNPOD_API_KEY"}
    dev = world.stack("dev", {**DEV, "runpodApiKey": OLD_KEY}, env=env, secret_keys={"runpodApiKey"})
    dev.up()
    world.runpod.api_key = NEW_KEY  # rotated at RunPod: the old key is revoked
    dev.config["runpodApiKey"] = NEW_KEY  # `pulumi config set --secret runpodApiKey <new>`
    return dev


def test_destroy_after_a_key_rotation_uses_the_key_of_the_last_up_and_forgets_nothing(world: World) -> None:
    dev = keyed_in_config(world)
    pod = dev.record(POD, "autoglm-pod").id
    with pytest.raises(Exception, match="401"):
        dev.destroy()  # the engine configures the provider from the config saved at the last up
    assert dev.record(POD, "autoglm-pod").id == pod and world.runpod.status_of(pod) == "RUNNING"

    dev.up()  # saves the new key with the provider's state
    assert ops(dev, POD) == ["same"]
    dev.destroy()
    assert world.runpod.live_pods() == [] and dev.state == {}


def test_destroy_after_a_key_rotation_works_with_the_new_key_in_the_environment(world: World) -> None:
    dev = keyed_in_config(world)
    dev.destroy(env={"RUNPOD_API_KEY": NEW_KEY})
    assert world.runpod.live_pods() == [] and dev.state == {}


# ---- up --replace --------------------------------------------------------------------------------------------

def test_up_replace_of_the_pod_moves_the_service_to_a_new_pod(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    assert dev.record(POD, "autoglm-pod").urn == POD_URN
    out = dev.up(replace=[POD_URN])
    assert out["pod_id"] != first["pod_id"] and out["base_url"] == f"https://{out['pod_id']}-8000.proxy.runpod.net/v1"
    assert ops(dev, POD) == ["replace", "delete-replaced"] and ops(dev, HEALTH) == ["update"]
    assert out["health"]["status"] == "healthy" and out["verified_image_ref"] == first["image_ref"]
    assert [p.id for p in world.runpod.billing_pods()] == [out["pod_id"]], "the old pod was terminated"
    assert world.vllm.behaviour.api_key == first["vllm_api_key"] == out["vllm_api_key"]
    dev.destroy()


def test_up_replace_of_the_generated_key_rotates_it_on_the_same_pod(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    assert dev.record(PASSWORD, "autoglm-vllm-api-key").urn == PASSWORD_URN, "the URN the README gives"
    out = dev.up(replace=[PASSWORD_URN])
    assert out["vllm_api_key"] != first["vllm_api_key"] and out["pod_id"] == first["pod_id"]
    assert ops(dev, POD) == ["update"] and ops(dev, HEALTH) == ["update"]
    assert world.runpod.pods[out["pod_id"]].env["VLLM_API_KEY"] == out["vllm_api_key"]
    last_chat = world.vllm.requests_to("/v1/chat/completions")[-1]
    assert last_chat.headers.get("authorization") == f"Bearer {out['vllm_api_key']}"
    dev.destroy()


# ---- promotion -----------------------------------------------------------------------------------------------

def test_promotion_from_a_stack_that_does_not_exist_fails_at_preview(world: World) -> None:
    prod = world.stack("prod", {**PROD, "promoteFrom": "staging"})
    with pytest.raises(Exception, match='unknown stack "organization/autoglm-runpod/staging"'):
        prod.up()
    assert world.runpod.requests_log == [] and prod.state == {}


# ---- secrets -------------------------------------------------------------------------------------------------

def _plain_strings(value: Any) -> Iterator[str]:
    """Every string in a state value that is not inside a secret."""
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _plain_strings(item)


def test_the_keys_are_secret_in_state_and_outputs(world: World) -> None:
    dev = world.stack("dev", {**DEV, "runpodApiKey": world.runpod.api_key}, secret_keys={"runpodApiKey"})
    out = dev.up()
    assert dev.secret_outputs == {"vllm_api_key", "client_command"}
    for key in (out["vllm_api_key"], world.runpod.api_key):
        leaks = [r.name for r in dev.snapshot.all() for part in (r.inputs, r.outs)
                 for text in _plain_strings(part) if key in text]
        assert leaks == [], "a key in plain text in state"
    assert is_secret(dev.record(POD, "autoglm-pod").outs["env"])
    assert is_secret(dev.record(PASSWORD, "autoglm-vllm-api-key").outs["result"])
    dev.destroy()


def test_a_launch_change_in_place_runs_the_health_check_again(world: World) -> None:
    dev = world.stack("dev", DEV)
    first = dev.up()
    chats = len(world.vllm.requests_to("/v1/chat/completions"))
    dev.config["maxModelLen"] = "16384"  # the pod's env changes: RunPod restarts it in place
    again = dev.up()
    assert ops(dev, POD) == ["update"] and again["pod_id"] == first["pod_id"]
    assert ops(dev, HEALTH) == ["update"], "the restarted server is checked, not vouched for by the old check"
    assert len(world.vllm.requests_to("/v1/chat/completions")) > chats
    assert again["health"]["checked_at"] >= first["health"]["checked_at"]
    dev.destroy()
