"""`python -m components.logs` as people run it, against the loopback RunPod fake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from components.runpod import RunPodClient
from tests.conftest import ROOT
from tests.fakes.runpod import FakePod, FakeRunPod, Timings


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.01, 0.01), sse_keepalive_s=0.1) as f:
        yield f


@pytest.fixture
def pod(fake: FakeRunPod) -> FakePod:
    client = RunPodClient(fake.api_key, fake.base_url)
    created = client.pods.create({"name": "autoglm-runpod-dev-svc-pod", "image": "vllm/vllm-openai:v0.11.0",
                                 "gpu": {"id": "NVIDIA L40S"}})
    deadline = time.monotonic() + 5
    while fake.status_of(created.id) != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    fake.append_log(created.id, "container", "INFO: Application startup complete.")
    return fake.pods[created.id]


def env(fake: FakeRunPod, key: str | None = None) -> dict[str, str]:
    return {**os.environ, "RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key if key is None else key}


def logs(fake: FakeRunPod, *argv: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "components.logs", *argv], cwd=ROOT, env=env(fake, key),
                          capture_output=True, text=True, timeout=60)


def test_prints_both_sources_and_exits_although_the_stream_stays_open(fake: FakeRunPod, pod: FakePod) -> None:
    started = time.monotonic()
    done = logs(fake, pod.id)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 15
    lines = done.stdout.splitlines()
    assert "[system] Container started" in lines
    assert lines[-1] == "[container] INFO: Application startup complete."


def test_one_source_prints_plain_lines_and_tail_bounds_them(fake: FakeRunPod, pod: FakePod) -> None:
    done = logs(fake, pod.id, "--source", "container", "--tail", "1")
    assert (done.returncode, done.stdout) == (0, "INFO: Application startup complete.\n")
    assert fake.calls("GET", f"/v2/pods/{pod.id}/logs")[-1].query == {"source": ["container"], "tail": ["1"]}


def test_follow_prints_new_lines_as_they_come(fake: FakeRunPod, pod: FakePod) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "components.logs", pod.id, "--source", "container",
                             "--tail", "0", "--follow"], cwd=ROOT, env=env(fake), stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # let it connect
        fake.append_log(pod.id, "container", "POST /v1/chat/completions 200")
        assert proc.stdout is not None
        assert proc.stdout.readline() == "POST /v1/chat/completions 200\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_unknown_pod_exits_1_with_a_clear_message(fake: FakeRunPod) -> None:
    done = logs(fake, "nosuchpod")
    assert done.returncode == 1
    assert "RunPod has no pod 'nosuchpod' in this account" in done.stderr


def test_a_bad_key_exits_1_without_printing_the_key(fake: FakeRunPod, pod: FakePod) -> None:
    done = logs(fake, pod.id, key="rpa_WRONG_KEY_91")
    assert done.returncode == 1
    assert "RunPod refused the API key in RUNPOD_API_KEY (401: invalid bearer token)" in done.stderr
    assert "rpa_WRONG_KEY_91" not in done.stdout + done.stderr


def test_a_missing_key_exits_1_before_calling_runpod(fake: FakeRunPod) -> None:
    done = logs(fake, "anypod", key="")
    assert (done.returncode, done.stderr) == (1, "error: RUNPOD_API_KEY is not set: export your RunPod API key first\n")
    assert fake.requests_log == []


def test_a_tail_beyond_runpods_limit_is_a_usage_error(fake: FakeRunPod) -> None:
    done = logs(fake, "anypod", "--tail", "6000")
    assert done.returncode == 2 and "must be 0–5000" in done.stderr


def test_a_crlf_key_exits_1_without_printing_it_or_calling_runpod(fake: FakeRunPod) -> None:
    done = logs(fake, "anypod", key=fake.api_key + "\r\n")
    assert done.returncode == 1
    assert "RUNPOD_API_KEY" in done.stderr and "carriage return" in done.stderr
    assert fake.api_key not in done.stdout + done.stderr
    assert fake.requests_log == []
