"""A timing variable that is no number of seconds (`RUNPOD_READ_TIMEOUT_S=abc`) stops every entry point before it
calls anything, with one line naming the variable: the commands, the pod provider, and the program at preview."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from collections.abc import Iterator

import pytest

from components import tuning
from components.providers.pod import POD_TYPE, PodProvider
from components.runpod import RunPodClient
from components.settings import TuningSettingError
from tests.conftest import ROOT, committed_stack_config, configure_mocks
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import HostError, provider_host

BAD = "abc"
SAYS = "must be a positive number of seconds"


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.01, 0.01)) as f:
        yield f


def test_check_names_the_first_unusable_variable_and_passes_good_ones() -> None:
    tuning.check(environ={})
    tuning.check(environ={knob.env: "7" for knob in tuning.KNOBS if knob.below is None})
    with pytest.raises(tuning.TuningError, match=f"^RUNPOD_STOP_TIMEOUT_S='soon' {SAYS}"):
        tuning.check(environ={"RUNPOD_STOP_TIMEOUT_S": "soon", "AUTOGLM_HEALTH_POLL_S": "-1"})
    tuning.check(tuning.RUNPOD_KNOBS, {"AUTOGLM_HEALTH_POLL_S": "-1"})  # only the knobs asked about


@pytest.mark.parametrize("variable", [knob.env for knob in tuning.RUNPOD_KNOBS])
def test_a_runpod_client_refuses_any_bad_runpod_timing_before_it_exists(fake: FakeRunPod, variable: str) -> None:
    """Not only the read timeout it uses itself: a bad poll interval would otherwise surface mid-wait, after a
    pod was created."""
    with pytest.raises(tuning.TuningError, match=f"^{variable}='{BAD}' {SAYS}"):
        RunPodClient.from_env({"RUNPOD_API_KEY": fake.api_key, "RUNPOD_API_URL": fake.base_url, variable: BAD})


@pytest.mark.parametrize("command", [["components.logs", "pod123"], ["components.pods", "list"]])
def test_the_commands_exit_2_with_one_line_and_call_nothing(fake: FakeRunPod, command: list[str]) -> None:
    env = {**os.environ, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_API_URL": fake.base_url,
           "RUNPOD_READ_TIMEOUT_S": BAD}
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: RUNPOD_READ_TIMEOUT_S='{BAD}' {SAYS}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert fake.requests_log == []


def test_the_pod_provider_fails_before_any_runpod_call(fake: FakeRunPod) -> None:
    env = {"RUNPOD_API_KEY": fake.api_key, "RUNPOD_API_URL": fake.base_url, "RUNPOD_POLL_INTERVAL_S": BAD}
    props = {"name": "autoglm-runpod-dev-autoglm-pod", "image": "repo@sha256:" + "0" * 64,
             "gpu_type_ids": ["NVIDIA L40S"], "min_cuda_version": "12.9", "ready_timeout_s": 5}
    with provider_host(PodProvider(), POD_TYPE, env=env) as host:
        inputs, failures = host.check(props)
        assert failures == []
        with pytest.raises(HostError) as e:
            host.create(inputs)
    assert e.value.message.endswith(f"RUNPOD_POLL_INTERVAL_S='{BAD}' {SAYS} (first pause between RunPod status "
                                    "polls (they back off ×1.5 up to 4× this)); unset it for the default, 5")
    assert fake.requests_log == [] and fake.pods == {}


@pytest.mark.parametrize("variable", [knob.env for knob in tuning.KNOBS])
def test_preview_refuses_a_bad_variable_before_anything_is_registered(monkeypatch: pytest.MonkeyPatch,
                                                                      variable: str) -> None:
    monkeypatch.setenv(variable, BAD)
    mocks = configure_mocks("dev", committed_stack_config("dev") | {"imageRepository": "docker.io/acme/autoglm-vllm"},
                            preview=True)
    with pytest.raises(TuningSettingError) as e:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert str(e.value).startswith(f"{variable}='{BAD}' {SAYS}")
    assert str(e.value).endswith("The variable comes from the shell that runs pulumi; nothing was created.")
    assert [r for r in mocks.resources if r.typ != "pulumi:pulumi:Stack"] == []
