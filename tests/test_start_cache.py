"""One writer per model cache volume, for real: docker/start.sh with bash, the real nginx and the vLLM fake, whose
starts read the Hugging Face cache on the "volume" (a shared directory) or download into it for a while, and log
what they did there (tests/fakes/hf_cache.py). Several containers on one volume, as serverless workers starting
cold at once, or a replacement pod beside the old one."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fakes.hf_cache import HfCache
from tests.fakes.vllm import FakeVllm
from tests.start_script import FAKE_VLLM_STUB, Launched, StartScript, free_port, wait_for

MODEL = "zai-org/AutoGLM-Phone-9B"
DOWNLOAD_S = 2.0
READY_S = 30  # generous: several processes start on a shared 2-core machine


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "runpod-volume"
    path.mkdir()
    return path


@pytest.fixture
def script(tmp_path: Path) -> StartScript:
    return StartScript(tmp_path, FAKE_VLLM_STUB).with_driver()


@pytest.fixture
def started() -> Iterator[list[Launched]]:
    runs: list[Launched] = []
    yield runs
    for run in runs:
        run.kill_group()


def start(script: StartScript, volume: Path, runs: list[Launched], **env: str) -> Launched:
    run = script.launch({"VOLUME_PATH": str(volume), "VLLM_PORT": str(free_port()), "STOP_GRACE_S": "5",
                         "FAKE_VLLM_BEHAVIOUR": json.dumps({"download_s": DOWNLOAD_S}), "CACHE_BEAT_S": "0.1",
                         **env})
    runs.append(run)
    return run


def answers(run: Launched, path: str = "/health") -> int | None:
    try:
        return requests.get(run.url(path), timeout=5).status_code
    except requests.ConnectionError:
        return None


def healthy(run: Launched) -> None:
    wait_for(lambda: answers(run) == 200 or not run.running(), READY_S, "vLLM answers through nginx")
    assert answers(run) == 200, run.stdout + run.stderr


def cache_log(volume: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in HfCache(volume / "hf").log()]


def test_containers_starting_cold_at_once_download_once_and_the_others_read_offline(
        script: StartScript, volume: Path, started: list[Launched]) -> None:
    first, second, third = (start(script, volume, started) for _ in range(3))
    wait_for(lambda: any("is filling the model cache" in r.stdout for r in started), READY_S,
             "a container waits for the one filling the cache")
    waiting = next(r for r in started if "is filling the model cache" in r.stdout)
    wait_for(lambda: answers(waiting, "/ping") is not None, READY_S, "nginx listens")
    assert answers(waiting, "/ping") == 204, "a waiting worker is loading, for RunPod's load balancer"
    for run in (first, second, third):
        healthy(run)
    assert sorted(cache_log(volume)) == [f"{MODEL} downloaded", f"{MODEL} warm offline", f"{MODEL} warm offline"]
    assert (volume / ".autoglm" / f"ready-{MODEL.replace('/', '--')}").exists()
    wait_for(lambda: not (volume / ".autoglm" / "writer.lock").exists(), 5, "each writer lets go once vLLM answers")
    assert sum("this container downloads it (writer lock taken)" in r.stdout for r in started) == 1
    assert sum("reading it offline (HF_HUB_OFFLINE=1)" in r.stdout for r in started) == 2


def test_without_the_lock_two_starts_would_write_the_cache_at_once(volume: Path) -> None:
    """The control: the fake notices two writers on one cache, so the test above would see one."""
    with FakeVllm(hf_home=volume / "hf", download_s=1.0, root=MODEL), \
            FakeVllm(hf_home=volume / "hf", download_s=1.0, root=MODEL) as other:
        wait_for(other.wait_listening, READY_S, "both downloaded")
    assert "concurrent" in {line.split()[-1] for line in cache_log(volume)}


def test_a_second_pod_on_a_warm_volume_starts_without_a_download(script: StartScript, volume: Path,
                                                                 started: list[Launched]) -> None:
    first = start(script, volume, started)
    healthy(first)
    wait_for(lambda: "is ready on the volume" in first.stdout, 5, "the writer marks the model ready")
    assert first.stop() == 0
    began = time.monotonic()
    second = start(script, volume, started)
    healthy(second)
    assert time.monotonic() - began < DOWNLOAD_S + READY_S / 2
    assert cache_log(volume) == [f"{MODEL} downloaded", f"{MODEL} warm offline"]
    assert "model cache: zai-org/AutoGLM-Phone-9B is on the volume; reading it offline" in second.stdout


def test_a_writer_that_died_is_taken_over(script: StartScript, volume: Path, started: list[Launched]) -> None:
    lock = volume / ".autoglm" / "writer.lock"
    lock.mkdir(parents=True)
    (lock / "heartbeat").write_text("7\n")  # a container killed mid-download: its heartbeat never moves again
    run = start(script, volume, started, CACHE_STALE_S="1")
    healthy(run)
    assert "has not shown a sign of life for 1 s; taking over" in run.stdout
    assert cache_log(volume) == [f"{MODEL} downloaded"]


def test_a_writer_stopped_mid_download_lets_the_next_start_take_over_at_once(script: StartScript, volume: Path,
                                                                              started: list[Launched]) -> None:
    first = start(script, volume, started)
    wait_for(lambda: "this container downloads it" in first.stdout, READY_S, "the first takes the writer lock")
    assert first.stop(signal.SIGTERM) == 0
    assert not (volume / ".autoglm" / "writer.lock").exists()
    second = start(script, volume, started)
    healthy(second)
    assert "is filling the model cache" not in second.stdout


def test_a_start_waiting_for_the_cache_stops_at_once_on_sigterm(script: StartScript, volume: Path,
                                                                started: list[Launched]) -> None:
    (volume / ".autoglm" / "writer.lock").mkdir(parents=True)  # someone else is filling it
    run = start(script, volume, started, CACHE_BEAT_S="5")
    wait_for(lambda: "is filling the model cache" in run.stdout, READY_S, "it waits")
    began = time.monotonic()
    assert run.stop(signal.SIGTERM, timeout_s=10) == 0
    assert time.monotonic() - began < 4, "the wait's pause does not hold up docker stop"
    assert "stopped on SIGTERM while waiting for the model cache" in run.stdout
    assert (volume / ".autoglm" / "writer.lock").exists(), "a lock that was never this container's stays"


def test_a_writer_on_a_warm_volume_that_stops_before_vllm_answers_lets_go_of_the_lock(
        script: StartScript, volume: Path, started: list[Launched]) -> None:
    first = start(script, volume, started)
    healthy(first)
    wait_for(lambda: "is ready on the volume" in first.stdout, 5, "the writer marks the model ready")
    assert first.stop() == 0
    second = start(script, volume, started, FAKE_VLLM_BEHAVIOUR=json.dumps({"load_delay_s": 60}))
    wait_for(lambda: "is on the volume; reading it offline" in second.stdout, READY_S, "it takes the writer lock")
    assert (volume / ".autoglm" / "writer.lock").exists()
    assert second.stop(signal.SIGTERM) == 0
    assert not (volume / ".autoglm" / "writer.lock").exists(), "else later starts never write the compile cache"


def test_a_writer_taken_over_while_loading_leaves_its_successors_lock_alone(
        script: StartScript, volume: Path, started: list[Launched]) -> None:
    lock = volume / ".autoglm" / "writer.lock"
    run = start(script, volume, started)
    wait_for(lambda: "this container downloads it" in run.stdout, READY_S, "it takes the writer lock")
    (lock / "owner").write_text("successor 1 42\n")  # it stalled, and another container took over
    healthy(run)
    wait_for(lambda: "is ready on the volume" in run.stdout, 5, "the writer marks the model ready")
    assert (lock / "owner").read_text() == "successor 1 42\n"
    assert run.stop() == 0
    assert lock.exists(), "the successor's lock outlives the old writer's exit too"
