"""The whole stack with a managed model cache volume and a placement from the live catalog, end to end in the simulated
engine (preview first, a fresh provider host per command) against the RunPod fake, the registry and vLLM fakes that
download the weights into the volume's cache unless an earlier pod left them there (tests/stack_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine import SimulatedStack
from tests.fakes.hf_cache import HfCache
from tests.registry import LocalRegistry
from tests.stack_world import DEV, DOWNLOAD_S, HEALTH, POD, VOLUME, World, ops, running_world

CACHE = "autoglm-runpod-dev-autoglm-model-cache"
POD_URN = "urn:pulumi:dev::autoglm-runpod::autoglm:index:Service$pulumi-python:dynamic/runpod:Pod::autoglm-pod"
MODEL = "zai-org/AutoGLM-Phone-9B"


@pytest.fixture
def world(registry: LocalRegistry, tmp_path: Path) -> Iterator[World]:
    with running_world(registry, tmp_path) as world:
        yield world


def with_key(world: World, config: dict[str, Any]) -> SimulatedStack:
    """A stack whose config holds the RunPod key and URL, so the program can read the catalog at preview."""
    return world.stack("dev", {**config, "runpodApiKey": world.runpod.api_key, "runpodApiUrl": world.runpod.base_url},
                       secret_keys={"runpodApiKey"})


def cache_log(world: World, volume_id: str) -> list[str]:
    root = world.runpod.volumes[volume_id].root
    assert root is not None
    return [line.split(" ", 1)[1] for line in HfCache(root / "hf").log()]


def test_the_cache_volume_sits_where_the_gpus_are_and_a_second_pod_skips_the_download(world: World) -> None:
    dev = world.stack("dev", DEV | {"modelCacheGb": "30"})
    out = dev.up()

    (volume,) = world.runpod.volumes.values()
    (pod,) = world.runpod.live_pods()
    assert volume.name == CACHE and volume.size == 30 and volume.type == "STANDARD"
    assert volume.data_center != "EU-RO-1", "its L40S hosts there run a driver below the image's CUDA floor"
    assert pod.host.data_center_id == volume.data_center
    created = world.runpod.calls("POST", "/v2/pods")[0].body
    assert created["dataCenterIds"] == [volume.data_center]
    assert created["mounts"] == {"network": [{"volumeId": volume.id, "path": "/runpod-volume"}]}
    assert created["env"]["VOLUME_PATH"] == "/runpod-volume" and created["disk"] == 40
    assert (out["model_cache_volume_id"], out["model_cache_data_center"]) == (volume.id, volume.data_center)
    assert out["model_cache_monthly_usd"] == pytest.approx(2.10)
    assert out["health"]["status"] == "healthy" and out["health"]["seconds_to_healthy"] > DOWNLOAD_S / 2
    assert cache_log(world, volume.id) == [f"{MODEL} downloaded"]

    again = dev.up(replace=[POD_URN])  # a new pod: a new host, the same volume
    assert ops(dev, VOLUME) == ["same"] and again["pod_id"] != out["pod_id"]
    assert again["health"]["status"] == "healthy" and again["health"]["seconds_to_healthy"] < DOWNLOAD_S / 2
    assert cache_log(world, volume.id) == [f"{MODEL} downloaded", f"{MODEL} warm"]

    dev.destroy()
    assert world.runpod.volumes == {} and world.runpod.live_pods() == []
    assert volume.root is not None and not volume.root.exists()


def test_retain_model_cache_keeps_the_volume_through_destroy_and_the_next_up_adopts_it(world: World) -> None:
    dev = world.stack("dev", DEV | {"modelCacheGb": "30", "retainModelCache": "true"})
    volume_id = dev.up()["model_cache_volume_id"]
    dev.destroy()
    assert list(world.runpod.volumes) == [volume_id], "retained: destroy dropped it from the state only"
    assert ops(dev, VOLUME) == ["delete"] and world.runpod.live_pods() == []
    assert world.runpod.calls("DELETE", "/v2/network-volumes/.*") == []

    later = dev.up()  # nothing in the state: the create finds the kept volume by its name
    assert later["model_cache_volume_id"] == volume_id and ops(dev, VOLUME) == ["create"]
    assert later["health"]["seconds_to_healthy"] < DOWNLOAD_S / 2
    assert cache_log(world, volume_id) == [f"{MODEL} downloaded", f"{MODEL} warm"]

    dev.config["retainModelCache"] = "false"
    dev.up()
    dev.destroy()
    assert world.runpod.volumes == {}, "without retainModelCache, destroy deletes it"


def test_preview_with_a_key_shows_the_ranked_candidates_and_reads_only_the_catalog(world: World) -> None:
    dev = with_key(world, DEV | {"gpuTypes": ["NVIDIA H100 PCIe", "auto"]})
    plan = dev.preview()["plan"]
    assert [c["gpu_type"] for c in plan["candidates"]] == ["NVIDIA H100 PCIe", "NVIDIA A40",
                                                           "NVIDIA RTX 6000 Ada Generation", "NVIDIA L40S"]
    assert plan["candidates"][1] == {"gpu_type": "NVIDIA A40", "usd_per_hour": 0.4, "availability": "HIGH",
                                     "source": "auto"}
    assert {(r.method, r.path) for r in world.runpod.requests_log} == {("GET", "/v2/catalog/gpus")}


def test_a_budget_nothing_meets_stops_preview_with_the_cheapest_price(world: World) -> None:
    dev = with_key(world, DEV | {"gpuTypes": ["NVIDIA L40S", "NVIDIA H100 PCIe"], "maxCostPerHour": "0.5"})
    with pytest.raises(Exception, match=r"the cheapest seen is NVIDIA L40S at \$0\.86/h.*Nothing was created"):
        dev.preview()
    assert dev.state == {} and world.runpod.calls("POST", "/v2/.*") == []


def test_without_a_key_at_preview_the_budget_is_refused_at_up_before_any_pod(world: World) -> None:
    dev = world.stack("dev", DEV | {"gpuTypes": ["NVIDIA L40S", "NVIDIA H100 PCIe"], "maxCostPerHour": "0.5"})
    assert "candidates" not in dev.preview()["plan"]
    with pytest.raises(Exception, match=r"cheapest seen is NVIDIA L40S at \$0\.86/h"):
        dev.up()
    assert world.runpod.calls("POST", "/v2/pods") == [] and world.runpod.live_pods() == []
    assert (POD, "autoglm-pod") not in dev.state and ops(dev, HEALTH) == []


def test_auto_deploys_the_cheapest_type_that_fits(world: World) -> None:
    out = world.stack("dev", DEV | {"gpuTypes": ["auto"]}).up()
    assert out["gpu_type"] == "NVIDIA A40" and out["cost_per_hour"] == pytest.approx(0.40)
    assert out["health"]["status"] == "healthy"
