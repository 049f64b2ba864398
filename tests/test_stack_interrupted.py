"""A `pulumi up` ended mid-create (a second Ctrl-C: the CLI ends the provider host, which ignores Cancel), then
the next command, through the simulated engine (tests/engine.py) against the world of tests/stack_world.py.

The killed host cannot end the pod it was starting: it bills under its provisional name, and the state holds no
id for it. The next `up` (its create), `refresh` (the read of the pod the stack holds) and `destroy` end it,
and never touch a pod under the stack's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.names import provisional_name, stack_pod_name
from components.pods import main as pods_command
from tests.engine import SimulatedStack
from tests.fakes.runpod import FakePod
from tests.provider_host import HostError
from tests.registry import LocalRegistry
from tests.stack_world import DEV, HEALTH, POD, World, ops, running_world

CREATING = provisional_name(stack_pod_name("dev"))


@pytest.fixture
def world(registry: LocalRegistry, tmp_path: Path) -> Iterator[World]:
    with running_world(registry, tmp_path) as world:
        yield world


def killed_mid_create(dev: SimulatedStack, world: World) -> FakePod:
    """Run `up` until the pod it creates is starting, then end its provider host; returns that pod."""
    world.runpod.next_pods("stuck_starting")
    seen: list[FakePod] = []

    def second_ctrl_c() -> None:  # the program needs the main thread's event loop: the kill comes from aside
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.extend(p for p in world.runpod.pods_named(CREATING) if p.status == "STARTING")
            if seen:
                dev.kill_provider_host()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=second_ctrl_c, name="second-ctrl-c")
    killer.start()
    try:
        with pytest.raises(HostError):  # the Create call lost its host ("Socket closed")
            dev.up()
    finally:
        killer.join(timeout=70)
    [orphan] = seen
    assert world.runpod.pods_named(CREATING) == [orphan] and orphan.holds_gpus, "nothing could end it: it bills"
    return orphan


def billing(world: World) -> set[str]:
    return {p.id for p in world.runpod.billing_pods()}


def test_the_next_up_ends_the_pod_a_killed_first_create_left_and_serves(world: World,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    dev = world.stack("dev", DEV)
    orphan = killed_mid_create(dev, world)
    assert (POD, "autoglm-pod") not in dev.state, "the state holds no id for it"

    dev.refresh()  # nothing in the state can see it: only the sweep command or the next up
    assert world.runpod.status_of(orphan.id) == "STARTING"
    monkeypatch.setenv("RUNPOD_API_URL", world.runpod.base_url)
    monkeypatch.setenv("RUNPOD_API_KEY", world.runpod.api_key)
    assert pods_command(["list", "--stack", "dev"]) == 0
    assert orphan.id in capsys.readouterr().out

    out = dev.up()
    assert ops(dev, POD) == ["create"] and out["health"]["status"] == "healthy"
    assert world.runpod.status_of(orphan.id) == "TERMINATED" and billing(world) == {out["pod_id"]}
    assert world.runpod.pods[out["pod_id"]].name == stack_pod_name("dev"), "the created pod took the stack's name"
    assert "was left by a create that never finished" in dev.log
    dev.destroy()
    assert world.runpod.live_pods() == []


def replacement_killed_mid_create(world: World) -> tuple[SimulatedStack, str, FakePod]:
    """A stack whose pod is being replaced (a new `containerDiskGb`) when the up is killed."""
    dev = world.stack("dev", DEV)
    old = dev.up()["pod_id"]
    dev.config["containerDiskGb"] = "90"
    orphan = killed_mid_create(dev, world)
    assert dev.record(POD, "autoglm-pod").id == old and dev.pending_deletes == []
    assert billing(world) == {old, orphan.id}, "the stack's pod serves, the unfinished one bills outside the stack"
    return dev, old, orphan


def test_refresh_after_a_killed_replacement_ends_the_orphan_and_keeps_the_stacks_pod(world: World) -> None:
    dev, old, orphan = replacement_killed_mid_create(world)
    dev.refresh()  # at once: no create can be told from this one, so it is only named
    assert world.runpod.status_of(orphan.id) != "TERMINATED" and "may be creating it now" in dev.log
    # Later (older than any create takes): it cannot be a running create's, so the refresh ends it.
    orphan.created_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    dev.refresh()
    assert world.runpod.status_of(orphan.id) == "TERMINATED" and billing(world) == {old}
    assert dev.record(POD, "autoglm-pod").id == old and world.runpod.status_of(old) == "RUNNING"

    del dev.config["containerDiskGb"]  # changed their mind: nothing is replaced
    out = dev.up()
    assert ops(dev, POD) == ["same"] and out["pod_id"] == old and billing(world) == {old}
    dev.destroy()


def test_the_next_up_ends_the_orphan_before_it_creates_and_replaces_as_usual(world: World) -> None:
    dev, old, orphan = replacement_killed_mid_create(world)
    out = dev.up()
    new = out["pod_id"]
    assert ops(dev, POD) == ["replace", "delete-replaced"] and ops(dev, HEALTH) == ["update"]
    assert billing(world) == {new} and world.runpod.status_of(orphan.id) == "TERMINATED"
    (_, orphan_end), = world.runpod.billing(orphan.id)
    (_, old_end), = world.runpod.billing(old)
    (new_start, _), = world.runpod.billing(new)
    assert orphan_end is not None and orphan_end <= new_start, "ended before the create began"
    assert old_end is not None and old_end > new_start, "the stack's pod served until its replacement did"
    dev.destroy()
    assert world.runpod.live_pods() == []


def test_destroy_after_a_killed_replacement_ends_both_pods(world: World) -> None:
    dev, _, _ = replacement_killed_mid_create(world)
    dev.destroy()
    assert world.runpod.live_pods() == [] and dev.state == {}
