"""`deployment: serverless` end to end in the simulated engine (tests/engine.py: preview first, a fresh provider
host per command, create-before-delete), in the world of tests/stack_world.py: the same image and CUDA floor as a
pod, verified through the endpoint's load balancer, promoted to a pod stack, updated in place, refreshed after
RunPod lowered its workers, and destroyed with nothing left; bad inputs fail at preview naming the setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine import SimulatedStack
from tests.engine_values import is_secret
from tests.registry import LocalRegistry
from tests.stack_world import DEV, DIGEST, ENDPOINT, HEALTH, POD, PROD, REPO, VOLUME, World, ops, running_world

ADA6000 = "NVIDIA RTX 6000 Ada Generation"


@pytest.fixture
def world(registry: LocalRegistry, tmp_path: Path) -> Iterator[World]:
    with running_world(registry, tmp_path) as world:
        yield world


def serverless(world: World, name: str, config: dict[str, Any]) -> SimulatedStack:
    return world.stack(name, world.serverless(config), secret_keys={"runpodApiKey"})


def gpus_held(world: World) -> int:
    return sum(8 - h.free_gpus for h in world.runpod.hosts)


def test_dev_serverless_deploys_verifies_and_destroys(world: World) -> None:
    dev = serverless(world, "dev", DEV)
    out = dev.up()

    (endpoint,) = world.runpod.endpoints.values()
    assert endpoint.name == "autoglm-runpod-dev-autoglm-endpoint" and world.runpod.live_pods() == []
    assert out["endpoint_id"] == endpoint.id and out["base_url"] == f"https://{endpoint.id}.api.runpod.ai/v1"
    (created,) = [r.body for r in world.runpod.calls("POST", "/v2/serverless")]
    assert created["image"] == out["image_ref"] == out["verified_image_ref"] == f"{REPO}@{DIGEST}"
    assert created["gpu"] == {"pools": ["ADA_48_PRO"], "count": 1, "minCudaVersion": "12.9",
                              "excludedTypes": [ADA6000]}, "the image's floor, and only the listed card of its pool"
    assert (created["type"], created["flashboot"], created["ports"]) == ("LOAD_BALANCER", "FLASHBOOT", ["8000/http"])
    assert created["workers"] == {"min": 0, "max": 2, "idleTimeout": 300}
    assert created["scaling"] == {"type": "REQUEST_COUNT", "requestCount": 4}
    env = created["env"]
    assert (env["PORT"], env["PORT_HEALTH"], env["HEALTH_CHECK_PATH"]) == ("8000", "8000", "/ping")
    assert "VLLM_API_KEY" not in env and out["vllm_api_key"] is None, "the RunPod key is the lock"
    record = dev.record(ENDPOINT, "autoglm-endpoint")
    assert is_secret(record.inputs["env"]) and is_secret(record.outs["env"]), "env is secret in state, as a pod's"

    assert out["health"]["status"] == "healthy" and out["workers"]["max"] == 2
    assert out["client_command"] == (f"python main.py --base-url {out['base_url']} --model autoglm-phone-9b "
                                     f"--apikey {world.runpod.api_key}")
    assert "client_command" in dev.secret_outputs
    assert out["serverless_price"]["per_gpu_second"] == pytest.approx(1.908 / 3600, abs=1e-6)
    assert out["serverless_price"]["at_workers_max_per_hour"] == pytest.approx(2 * 1.908)
    assert out["serverless_price"]["scaled_to_zero_per_hour"] == 0.0
    routed = world.balancer.routed(endpoint.id)
    assert routed[0].status == 400 and {r.path for r in routed if r.status == 200} >= {"/ping", "/v1/models",
                                                                                        "/v1/chat/completions"}
    assert world.runpod.api_key not in dev.log

    dev.destroy()
    assert world.runpod.endpoints == {} and gpus_held(world) == 0


def test_prod_pod_promotes_the_digest_dev_verified_on_serverless(world: World) -> None:
    dev_out = serverless(world, "dev", DEV).up()
    prod = world.stack("prod", PROD)
    prod_out = prod.up()
    assert prod_out["image_ref"] == dev_out["verified_image_ref"] == prod_out["verified_image_ref"]
    assert prod_out["gpu_type"] == "NVIDIA H100 PCIe" and prod_out["host_cuda_version"] == "12.9"
    assert ops(prod, POD) == ["create"] and ops(prod, ENDPOINT) == []
    prod.destroy()


def test_a_new_workers_max_is_applied_in_place_and_the_check_stands(world: World) -> None:
    dev = serverless(world, "dev", DEV)
    first = dev.up()
    dev.config["workersMax"] = "3"
    second = dev.up()
    assert ops(dev, ENDPOINT) == ["update"] and ops(dev, HEALTH) == ["same"]
    assert second["endpoint_id"] == first["endpoint_id"] and second["workers"]["max"] == 3
    (patch,) = [r.body for r in world.runpod.calls("PATCH", "/v2/serverless/.+")]
    assert patch == {"workers": {"min": 0, "max": 3, "idleTimeout": 300}}
    dev.destroy()


def test_refresh_records_what_runpod_lowered_and_the_next_up_restores_it(world: World) -> None:
    dev = serverless(world, "dev", DEV)
    out = dev.up()
    world.runpod.lower_workers_max(out["endpoint_id"], 0)
    dev.refresh()
    assert dev.record(ENDPOINT, "autoglm-endpoint").outs["workers_max"] == 0
    assert "RunPod lowered workers.max from 2 to 0" in dev.log and "the next `pulumi up` restores" in dev.log
    again = dev.up()
    assert ops(dev, ENDPOINT) == ["update"] and again["endpoint_id"] == out["endpoint_id"]
    assert world.runpod.endpoints[out["endpoint_id"]].scaling["max"] == 2
    assert "workers.max is 0 at RunPod" in dev.log and "restoring workers_max (autoglm-runpod:workersMax) 2" in dev.log
    dev.destroy()
    assert world.runpod.endpoints == {}


def test_unhealthy_workers_fail_the_deploy_and_the_endpoint_stays_in_state(world: World) -> None:
    world.runpod.next_workers("unhealthy", 2)
    dev = serverless(world, "dev", DEV)
    with pytest.raises(Exception, match=r"UNHEALTHY.*python -m components.logs --endpoint"):
        dev.up()
    record = dev.record(ENDPOINT, "autoglm-endpoint")
    assert list(world.runpod.endpoints) == [record.id], "in state, not leaked"
    assert (HEALTH, "autoglm-health") not in dev.state
    dev.destroy()
    assert world.runpod.endpoints == {} and gpus_held(world) == 0


@pytest.mark.parametrize(("config", "says"), [
    ({"workersMin": "3", "workersMax": "2"}, r"autoglm-runpod:workersMin = '3' is not valid: it is above "
                                             r"autoglm-runpod:workersMax"),
    ({"requestsPerWorker": "0"}, r"autoglm-runpod:requestsPerWorker = '0' is not valid"),
    ({"gpuTypes": ["NVIDIA L40S", "NVIDIA RTX A6000"]}, r"autoglm-runpod:gpuTypes = .* NVIDIA RTX A6000: not in "
                                                        r"RunPod's serverless catalog"),
    ({"maxCostPerHour": "2.50"}, r"autoglm-runpod:maxCostPerHour = '2.5' is not valid: .*costs more than "
                                 r"autoglm-runpod:maxCostPerHour allows; the cheapest seen is NVIDIA L40S at "
                                 r"\$3\.82/h\. .* or lower autoglm-runpod:workersMax"),
    ({"running": "false"}, r"autoglm-runpod:running = 'false' is not valid: it applies to deployment pod only"),
    ({"vllmApiKey": "k" * 20}, r"autoglm-runpod:vllmApiKey = \(secret\) is not valid"),
])
def test_bad_inputs_fail_at_preview_naming_the_setting(world: World, config: dict[str, Any], says: str) -> None:
    dev = world.stack("dev", world.serverless(DEV | config), secret_keys={"runpodApiKey", "vllmApiKey"})
    with pytest.raises(Exception, match=says):
        dev.preview()
    assert [r for r in world.runpod.requests_log if not r.path.startswith("/v2/catalog")] == []
    assert dev.state == {}


def test_a_serverless_key_on_a_pod_stack_fails_at_preview(world: World) -> None:
    dev = world.stack("dev", DEV | {"workersMax": "4"})
    with pytest.raises(Exception, match=r"autoglm-runpod:workersMax = '4' is not valid: it applies to deployment "
                                        r"serverless only"):
        dev.preview()
    assert world.runpod.requests_log == []


def test_without_a_runpod_key_preview_says_serverless_needs_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    dev = world.stack("dev", DEV | {"deployment": "serverless"})
    with pytest.raises(Exception, match=r"autoglm-runpod:deployment = 'serverless' is not valid: serverless workers "
                                        r"run on RunPod's serverless pools.*no RunPod API key at hand"):
        dev.preview()
    assert world.runpod.requests_log == []


def test_a_serverless_stack_mounts_its_managed_model_cache_in_the_workers(world: World) -> None:
    dev = serverless(world, "dev", DEV | {"modelCacheGb": "30"})
    out = dev.up()

    (volume,) = world.runpod.volumes.values()
    (created,) = [r.body for r in world.runpod.calls("POST", "/v2/serverless")]
    assert created["networkVolumes"] == [volume.id], "workers see it at /runpod-volume, RunPod's fixed path"
    assert created["env"]["VOLUME_PATH"] == "/runpod-volume"
    assert any(h.data_center_id == volume.data_center and h.gpu_type_id == "NVIDIA L40S" for h in world.runpod.hosts)
    assert (out["model_cache_volume_id"], out["model_cache_data_center"]) == (volume.id, volume.data_center)
    assert out["health"]["status"] == "healthy"
    dev.destroy()
    assert world.runpod.endpoints == {} and world.runpod.volumes == {}


def test_preview_of_a_serverless_stack_ranks_no_pod_and_prices_its_workers(world: World) -> None:
    out = serverless(world, "dev", DEV).preview()
    assert "candidates" not in out["plan"], "a serverless stack places no pod"
    assert out["serverless_pools"] == ["ADA_48_PRO"]
    assert out["serverless_price"]["at_workers_max_per_hour"] == pytest.approx(2 * 1.908)


def test_a_serverless_budget_is_refused_with_the_workers_price_not_a_pods(world: World) -> None:
    with pytest.raises(Exception, match=r"maxCostPerHour") as caught:
        serverless(world, "dev", DEV | {"maxCostPerHour": "0.5"}).preview()
    assert "$0.86/h" not in str(caught.value), "the pod's price is not what workers cost"
    assert "3.82" in str(caught.value) and world.runpod.calls("POST", "/v2/serverless") == []


def test_a_listed_serverless_type_over_the_budget_names_the_budget_and_its_fixes(world: World) -> None:
    settings = DEV | {"gpuTypes": '["NVIDIA L40S", "NVIDIA H100 PCIe"]', "maxCostPerHour": "4"}
    with pytest.raises(Exception) as caught:
        serverless(world, "dev", settings).preview()
    message = str(caught.value)
    assert "autoglm-runpod:maxCostPerHour = '4.0' is not valid" in message
    assert ("Raise autoglm-runpod:maxCostPerHour, lower autoglm-runpod:workersMax or autoglm-runpod:gpuCount, or "
            "remove them from autoglm-runpod:gpuTypes") in message


def test_a_catalog_outage_with_a_key_at_hand_says_retry_not_set_a_key(world: World) -> None:
    world.runpod.inject("GET", "/v2/catalog/gpus", 503, times=50)
    with pytest.raises(Exception) as caught:
        serverless(world, "dev", DEV).preview()
    assert "could not be read" in str(caught.value) and "Retry once RunPod answers" in str(caught.value)
    assert "Set autoglm-runpod:runpodApiKey" not in str(caught.value)


def test_the_cache_volume_is_placed_for_the_pools_the_endpoint_uses_not_every_type_that_fits(world: World) -> None:
    dev = serverless(world, "dev", DEV | {"gpuTypes": '["auto"]', "maxCostPerHour": "3", "modelCacheGb": "30"})
    dev.up()
    (volume,) = [r for r in dev.state.values() if r.typ == VOLUME]
    (created,) = [r.body for r in world.runpod.calls("POST", "/v2/serverless")]
    assert "NVIDIA L40S" not in volume.inputs["gpu_type_ids"], "2 workers on L40S cost $3.82/h, over the budget"
    assert volume.inputs["auto_gpu_type_ids"] == []
    assert set(created["gpu"]["pools"]) == {"AMPERE_48"} and volume.inputs["gpu_type_ids"] == ["NVIDIA A40"]
    dev.destroy()
