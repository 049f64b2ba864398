"""`python -m components.compat --live`: the GPU types a pod create would try now, ranked from the RunPod fake's
catalog with the stack's rules; and `--gpu auto` without it."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator

import pytest

from components.compat.cli import main
from tests.conftest import ROOT
from tests.fakes.runpod import FakeHost, FakeRunPod

L40S, ADA6000, H100, A40 = "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA A40"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunPod]:
    hosts = [FakeHost(A40, "12.8", 8, "EU-RO-1"), FakeHost(ADA6000, "12.9", 2, "US-TX-3"),
             FakeHost(L40S, "12.9", 8, "EU-RO-1"), FakeHost(H100, "13.0", 8, "EU-SE-1")]
    with FakeRunPod(hosts=hosts) as f:
        monkeypatch.setenv("RUNPOD_API_URL", f.base_url)
        monkeypatch.setenv("RUNPOD_API_KEY", f.api_key)
        yield f


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_live_ranks_what_auto_would_try_now(fake: FakeRunPod) -> None:
    code, text = run("--live")
    assert code == 0
    assert "GPU types a pod create tries now: SECURE cloud, 1 GPU, CUDA ≥ 12.9 (vLLM 0.12.0)" in text
    lines = [line.strip() for line in text.splitlines()[1:]]
    assert lines == [f"1. {ADA6000} ($0.77/h, availability LOW, auto)", f"2. {L40S} ($0.86/h, availability HIGH, auto)",
                     f"3. {H100} ($2.39/h, availability HIGH, auto)"], "the A40 has no host at the floor"
    assert {(r.method, r.path) for r in fake.requests_log} == {("GET", "/v2/catalog/gpus")}


def test_live_applies_the_budget_the_data_center_and_shows_why(fake: FakeRunPod) -> None:
    code, text = run("--live", "--gpu", "H100", "--gpu", "auto", "--max-cost-per-hour", "1", "--all")
    assert code == 0 and f"1. {ADA6000} ($0.77/h, availability LOW, auto)" in text
    assert f"not tried: {H100}: $2.39/h for 1 GPU is above autoglm-runpod:maxCostPerHour $1.00" in text
    assert f"not tried: {A40}: no capacity at the CUDA floor now" in text
    code, text = run("--live", "--data-center", "EU-RO-1", "--all")
    assert code == 0 and f"1. {L40S} ($0.86/h, availability HIGH, auto)" in text
    assert f"not tried: {ADA6000}: none free in EU-RO-1, where the model cache volume is" in text


def test_live_says_when_nothing_can_be_tried(fake: FakeRunPod) -> None:
    code, text = run("--live", "--gpu", "L40S", "--max-cost-per-hour", "0.5")
    assert code == 1 and "NOTHING TO TRY" in text and "the cheapest seen is NVIDIA L40S at $0.86/h" in text


def test_live_without_a_key_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    assert run("--live")[0] == 2
    assert "--live reads RunPod's catalog" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--live", "--data-center", "eu-ro-1"], ["--live", "--max-cost-per-hour", "0"],
                                  ["--gpu", "auto", "--gpu", "L40S"]])
def test_flags_take_what_their_settings_take(argv: list[str]) -> None:
    assert run(*argv)[0] == 2


def test_auto_without_live_lists_what_it_may_choose() -> None:
    code, text = run("--gpu", "L40S", "--gpu", "auto")
    assert code == 0 and "auto: every other type that fits" in text and A40 in text
    assert "NVIDIA GeForce RTX 4090" not in text


def test_the_command_runs_live_as_a_process(fake: FakeRunPod) -> None:
    done = subprocess.run([sys.executable, "-m", "components.compat", "--live", "--gpu", "L40S"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and f"1. {L40S} ($0.86/h, availability HIGH, listed)" in done.stdout


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("RUNPOD_API_KEY", "rpa_DO_NOT_PRINT_0123456789\n", "has a line feed"),
    ("RUNPOD_API_KEY", "rpa_NOT_THE_FAKES_KEY_0123456789", "401"),
    ("RUNPOD_READ_TIMEOUT_S", "soon", "RUNPOD_READ_TIMEOUT_S"),
])
def test_live_with_an_unusable_key_or_timing_variable_is_a_usage_error(
        fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        variable: str, value: str, said: str) -> None:
    monkeypatch.setenv(variable, value)
    code, text = run("--live")
    err = capsys.readouterr().err
    assert code == 2 and text == "" and "--live reads RunPod's catalog" in err and said in err
    assert "DO_NOT_PRINT" not in err and "NOT_THE_FAKES_KEY" not in err
