"""Which RunPod key a stack provider sends (components/providers/base.py), through the SDK's provider host
against the loopback RunPod fake: the stack config's key first, RUNPOD_API_KEY once RunPod refuses it (a key
rotated since the last `pulumi up`, whose saved config `refresh` and `destroy` use), and a 401 that says where
the refused key came from and both ways out, never the key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.providers.pod import POD_TYPE, PodProvider
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

KEY = "rpa_CURRENT_key_4f2a9c"  # the key RunPod knows
OLD, OTHER = "rpa_REVOKED_key_77e1d0", "rpa_UNKNOWN_key_0b3c5e"
NAME = "autoglm-runpod-dev-autoglm-pod"
IMAGE = "docker.io/acme/autoglm-vllm@sha256:" + "a" * 64
SAVED = ("RunPod refused the key in autoglm-runpod:runpodApiKey (for `pulumi refresh` and `pulumi destroy`, the "
         "value saved by the last `pulumi up`)")
WAYS_OUT = ("Either export the current key (RunPod console → Settings → API Keys) as RUNPOD_API_KEY and run the "
            "command again", "`pulumi config set --secret runpodApiKey <current key>` and `pulumi up`")


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(api_key=KEY, timings=Timings(0.02, 0.04)) as f:
        yield f


def stack_host(fake: FakeRunPod, config_key: str | None, env_key: str) -> Any:
    """A provider host configured as the engine configures it, with RUNPOD_API_KEY in its environment."""
    config = {"autoglm-runpod:runpodApiUrl": fake.base_url}
    if config_key is not None:
        config["autoglm-runpod:runpodApiKey"] = config_key
    return provider_host(PodProvider(), POD_TYPE, config=config,
                         env={"RUNPOD_API_KEY": env_key, "RUNPOD_API_URL": "", "RUNPOD_POLL_INTERVAL_S": "0.02"})


def create(host: Host) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check({"name": NAME, "image": IMAGE, "gpu_type_ids": ["NVIDIA L40S"],
                                   "min_cuda_version": "12.9", "ready_timeout_s": 5})
    assert failures == []
    return host.create(inputs)


def test_the_config_key_wins_while_runpod_takes_it(fake: FakeRunPod) -> None:
    with stack_host(fake, KEY, env_key=OTHER) as host:
        pod_id, outs = create(host)
        host.delete(pod_id, outs)
        log = host.stderr()
    assert all(r.authorized for r in fake.requests_log), "the environment's key was never sent"
    assert "RUNPOD_API_KEY" not in log and fake.live_pods() == []


def test_a_refused_config_key_gives_way_to_the_environments_and_says_so(fake: FakeRunPod) -> None:
    with stack_host(fake, KEY, env_key="") as host:
        pod_id, outs = create(host)
    with stack_host(fake, OLD, env_key=KEY) as host:  # `pulumi destroy` after the key was rotated
        read_id, _ = host.read(pod_id, outs)
        host.delete(pod_id, outs)
        log = host.stderr()
    assert read_id == pod_id and fake.live_pods() == []
    assert "using the one in RUNPOD_API_KEY" in log and OLD not in log and KEY not in log


@pytest.mark.parametrize(("config_key", "env_key", "origin"), [
    (OLD, "", SAVED),
    (OLD, OLD, SAVED),
    (OLD, OTHER, "RunPod refused both the key in autoglm-runpod:runpodApiKey (for `pulumi refresh` and `pulumi "
                 "destroy`, the value saved by the last `pulumi up`) and the one in RUNPOD_API_KEY"),
], ids=["no key in the environment", "the same key in the environment", "both refused"])
def test_a_refused_key_says_where_it_came_from_and_both_ways_out(fake: FakeRunPod, config_key: str, env_key: str,
                                                                origin: str) -> None:
    with stack_host(fake, KEY, env_key="") as host:
        pod_id, outs = create(host)
    with stack_host(fake, config_key, env_key) as host, pytest.raises(HostError) as caught:
        host.delete(pod_id, outs)
    message = caught.value.message
    assert "401" in message and origin in message and all(way in message for way in WAYS_OUT)
    assert all(key not in caught.value.details for key in (OLD, OTHER, KEY))
    assert message.count("401") == 1, "said once: the read back would be refused as well"
    assert f"Terminating pod {pod_id} failed" in message and fake.status_of(pod_id) == "RUNNING"


def test_a_refused_key_from_the_environment_alone_says_so(fake: FakeRunPod) -> None:
    with stack_host(fake, None, env_key=OLD) as host, pytest.raises(HostError) as caught:
        create(host)
    assert ("RunPod refused the key in RUNPOD_API_KEY (autoglm-runpod:runpodApiKey is not set). Export the current "
            "key") in caught.value.message
    assert OLD not in caught.value.details and fake.pods == {}
