"""`python -m components.logs` as people run it, against the loopback RunPod fake."""

from __future__ import annotations

import os
import select
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
        deadline = time.monotonic() + 30
        while not fake.calls("GET", f"/v2/pods/{pod.id}/logs"):  # the stream is open: a line now is a live one
            assert time.monotonic() < deadline, "the command never opened the log stream"
            time.sleep(0.05)
        fake.append_log(pod.id, "container", "POST /v1/chat/completions 200")
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 30)[0], "no line within 30 s"
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


# ---- serverless workers -------------------------------------------------------------------------------------------


@pytest.fixture
def worker(fake: FakeRunPod) -> tuple[str, str]:
    client = RunPodClient(fake.api_key, fake.base_url)
    made = client.endpoints.create({
        "name": "autoglm-runpod-dev-autoglm-endpoint", "type": "LOAD_BALANCER", "image": "vllm/vllm-openai:v0.12.0",
        "gpu": {"pools": ["ADA_48_PRO"], "minCudaVersion": "12.9"}, "workers": {"min": 1, "max": 1, "idleTimeout": 60},
        "scaling": {"type": "REQUEST_COUNT", "requestCount": 4}})
    deadline = time.monotonic() + 5
    while [w.status for w in fake.workers_of(made.id)] != ["IDLE"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return made.id, fake.workers_of(made.id)[0].id


def test_an_endpoint_alone_lists_its_workers_and_how_to_read_one(fake: FakeRunPod, worker: tuple[str, str]) -> None:
    endpoint_id, worker_id = worker
    done = logs(fake, "--endpoint", endpoint_id)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["WORKER", "STATUS", "GPU", "DATA", "CENTER", "UPTIME"]
    assert lines[1].split()[:2] == [worker_id, "IDLE"] and "NVIDIA L40S" in lines[1] and "US-TX-3" in lines[1]
    assert lines[-1] == f"logs of one: python -m components.logs --endpoint {endpoint_id} --worker {worker_id}"


def test_a_workers_log_prints_like_a_pods(fake: FakeRunPod, worker: tuple[str, str]) -> None:
    endpoint_id, worker_id = worker
    done = logs(fake, "--endpoint", endpoint_id, "--worker", worker_id, "--tail", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[container] INFO: Application startup complete."
    assert fake.calls("GET", f"/v2/serverless/{endpoint_id}/workers/{worker_id}/logs")[-1].query == {"tail": ["5"]}


def test_an_unknown_worker_and_a_bad_combination_say_what_to_do(fake: FakeRunPod, worker: tuple[str, str]) -> None:
    endpoint_id, _ = worker
    done = logs(fake, "--endpoint", endpoint_id, "--worker", "nosuchworker")
    assert done.returncode == 1 and f"--endpoint {endpoint_id}` lists its workers" in done.stderr
    assert logs(fake, "--endpoint", "nosuchendpoint").returncode == 1
    both = logs(fake, "somepod", "--endpoint", endpoint_id)
    assert both.returncode == 2 and "give a pod id, or --endpoint" in both.stderr
    assert logs(fake, "--worker", "w1").returncode == 2
