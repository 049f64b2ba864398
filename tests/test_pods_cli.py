"""`python -m components.pods list|sweep` against the loopback RunPod fake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from components.names import POD_RESOURCE as STACK_POD_RESOURCE
from components.names import resource_name as pod_name
from components.pods import age, main
from tests.conftest import ROOT
from tests.fakes.runpod import FakePod, FakeRunPod


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunPod]:
    with FakeRunPod() as f:
        monkeypatch.setenv("RUNPOD_API_URL", f.base_url)
        monkeypatch.setenv("RUNPOD_API_KEY", f.api_key)
        yield f


@pytest.fixture
def pods(fake: FakeRunPod) -> dict[str, FakePod]:
    return {
        "dev": fake.add_pod("autoglm-runpod-dev-autoglm-pod", gpu_type_id="NVIDIA L40S"),
        "leaked": fake.add_pod("autoglm-runpod-dev-autoglm-pod", gpu_type_id="NVIDIA L40S", status="ERROR"),
        "prod": fake.add_pod("autoglm-runpod-prod-autoglm-pod", gpu_type_id="NVIDIA H100 PCIe"),
        "stopped": fake.add_pod("autoglm-runpod-old-autoglm-pod", status="EXITED"),
        "foreign": fake.add_pod("my-jupyter-notebook"),
        "lookalike": fake.add_pod("autoglm-runpodder"),
    }


def test_list_prints_the_projects_pods_only(pods: dict[str, FakePod], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    header, *rows, total = out.splitlines()
    assert header.split() == ["ID", "NAME", "STATUS", "GPU", "$/H", "AGE"]
    assert {row.split()[0] for row in rows} == {pods[k].id for k in ("dev", "leaked", "prod", "stopped")}
    prod = next(row for row in rows if row.startswith(pods["prod"].id)).split()
    assert prod[1:6] == ["autoglm-runpod-prod-autoglm-pod", "RUNNING", "1x", "NVIDIA", "H100"]
    assert prod[-2:] == ["2.39", "0h00m"]
    assert total == "4 pod(s), billing $4.11/h now"  # 0.86 + 0.86 (ERROR bills) + 2.39 + 0


def test_list_of_one_stack(pods: dict[str, FakePod], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--stack", "prod"]) == 0
    assert pods["prod"].id in capsys.readouterr().out
    assert main(["list", "--stack", "staging"]) == 0
    assert capsys.readouterr().out == "no pods named autoglm-runpod-staging-autoglm-pod in this RunPod account\n"


def test_a_sweep_of_stack_dev_leaves_stack_dev_eu_alone(fake: FakeRunPod) -> None:
    dev = fake.add_pod("autoglm-runpod-dev-autoglm-pod", gpu_type_id="NVIDIA L40S")
    leaked = fake.add_pod("autoglm-runpod-dev-autoglm-pod", gpu_type_id="NVIDIA L40S", status="ERROR")
    dev_eu = fake.add_pod("autoglm-runpod-dev-eu-autoglm-pod", gpu_type_id="NVIDIA H100 PCIe")  # another stack's
    assert main(["sweep", "--stack", "dev", "--keep", dev.id, "--yes"]) == 0
    live = {p.id for p in fake.live_pods()}
    assert leaked.id not in live
    assert dev_eu.id in live, "`sweep --stack dev` terminated stack dev-eu's pod"
    assert main(["sweep", "--stack", "dev-eu", "--keep", dev.id, "--yes"]) == 1  # dev's pod is not dev-eu's
    assert dev_eu.id in {p.id for p in fake.live_pods()}


def test_a_stacks_pods_include_the_one_an_unfinished_create_left(fake: FakeRunPod,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    dev = fake.add_pod("autoglm-runpod-dev-autoglm-pod", gpu_type_id="NVIDIA L40S")
    left = fake.add_pod("autoglm-runpod-dev-autoglm-pod-creating", gpu_type_id="NVIDIA L40S", status="STARTING")
    dev_eu = fake.add_pod("autoglm-runpod-dev-eu-autoglm-pod-creating", gpu_type_id="NVIDIA L40S")
    assert main(["list", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert dev.id in out and left.id in out and dev_eu.id not in out
    assert main(["sweep", "--stack", "dev", "--keep", dev.id, "--yes"]) == 0
    assert {p.id for p in fake.live_pods()} == {dev.id, dev_eu.id}


def test_a_stack_with_a_long_name_matches_its_hashed_pod_name(fake: FakeRunPod,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack = "s" * 200
    name = pod_name(stack, STACK_POD_RESOURCE)
    assert len(name) == 191 and not name.endswith(STACK_POD_RESOURCE)  # cut and hashed
    ours = fake.add_pod(name)
    other = fake.add_pod(pod_name(stack + "x", STACK_POD_RESOURCE))
    assert main(["list", "--stack", stack]) == 0
    out = capsys.readouterr().out
    assert ours.id in out and other.id not in out


def test_the_stack_option_says_it_matches_one_stack_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    unwrapped = "".join(capsys.readouterr().out.split())  # argparse wraps lines, even inside a name
    expected = ("only this stack's pods: named exactly autoglm-runpod-STACK-autoglm-pod (so --stack dev never "
                "matches stack dev-eu's pods)")
    assert "".join(expected.split()) in unwrapped


def test_the_pods_command_does_not_print_a_crlf_key(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", fake.api_key + "\r")
    assert main(["list"]) == 1
    captured = capsys.readouterr()
    assert fake.api_key not in captured.out + captured.err
    assert "RUNPOD_API_KEY" in captured.err and "carriage return" in captured.err
    assert fake.requests_log == []


def test_a_plain_http_url_to_another_machine_is_refused(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUNPOD_API_URL", "http://api.runpod.io")
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the RunPod API URL (RUNPOD_API_URL or autoglm-runpod:runpodApiUrl) is "
                          "http://api.runpod.io: plain http would send the RunPod API key unencrypted")
    assert fake.api_key not in err


def test_a_sweep_without_yes_changes_nothing(fake: FakeRunPod, pods: dict[str, FakePod],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--keep", pods["dev"].id]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would terminate 3 pod(s):\n")
    assert out.endswith("dry run: nothing was terminated; add --yes to terminate them\n")
    assert len(fake.live_pods()) == 6
    assert fake.calls("DELETE") == [] and fake.calls("POST") == []


def test_a_sweep_with_yes_ends_exactly_the_unkept_prefixed_pods(fake: FakeRunPod, pods: dict[str, FakePod],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--keep", pods["dev"].id, pods["prod"].id, "--yes"]) == 0
    assert {p.id for p in fake.live_pods()} == {pods[k].id for k in ("dev", "prod", "foreign", "lookalike")}
    assert {c.path for c in fake.calls("DELETE")} == {f"/v2/pods/{pods[k].id}" for k in ("leaked", "stopped")}
    assert f"terminated {pods['leaked'].id} (autoglm-runpod-dev-autoglm-pod)" in capsys.readouterr().out


def test_a_sweep_of_one_stack_leaves_the_others(fake: FakeRunPod, pods: dict[str, FakePod]) -> None:
    assert main(["sweep", "--stack", "dev", "--yes"]) == 0
    assert {p.id for p in fake.live_pods()} == {pods[k].id for k in ("prod", "stopped", "foreign", "lookalike")}


def test_a_mistyped_keep_refuses_the_whole_sweep(fake: FakeRunPod, pods: dict[str, FakePod],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--keep", "typo123", "--yes"]) == 1
    assert "--keep typo123 matches no pod named autoglm-runpod-*" in capsys.readouterr().err
    assert len(fake.live_pods()) == 6


def test_a_failed_terminate_is_reported_and_exits_1(fake: FakeRunPod, pods: dict[str, FakePod],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake.inject("DELETE", f"/v2/pods/{pods['stopped'].id}", 403, detail="access denied")
    assert main(["sweep", "--keep", pods["dev"].id, "--yes"]) == 1
    assert f"could not terminate {pods['stopped'].id}" in capsys.readouterr().err
    assert {p.id for p in fake.live_pods()} == {pods[k].id for k in ("dev", "stopped", "foreign", "lookalike")}


def test_a_terminate_answered_500_is_sent_again_until_runpod_confirms(fake: FakeRunPod, pods: dict[str, FakePod],
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUNPOD_POLL_INTERVAL_S", "0.02")
    fake.inject("DELETE", f"/v2/pods/{pods['leaked'].id}", 500, times=2)
    assert main(["sweep", "--stack", "dev", "--keep", pods["dev"].id, "--yes"]) == 0
    assert f"terminated {pods['leaked'].id}" in capsys.readouterr().out
    assert pods["leaked"].id not in {p.id for p in fake.live_pods()}


def test_a_bad_key_exits_1_with_a_clear_message(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_WRONG_55")
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert err == "error: RunPod refused the API key in RUNPOD_API_KEY (401: invalid bearer token)\n"


def test_a_missing_key_exits_1(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY")
    assert main(["sweep", "--yes"]) == 1
    assert "RUNPOD_API_KEY is not set" in capsys.readouterr().err
    assert fake.requests_log == []


def test_runs_as_a_module_and_rejects_bad_usage(fake: FakeRunPod, pods: dict[str, FakePod]) -> None:
    done = subprocess.run([sys.executable, "-m", "components.pods", "list"], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and pods["prod"].id in done.stdout
    usage = subprocess.run([sys.executable, "-m", "components.pods", "purge"], cwd=ROOT, env=dict(os.environ),
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "invalid choice: 'purge'" in usage.stderr


def test_age_reads_runpods_timestamps() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert age("2026-11-27T10:55:00Z", now) == "1h05m"
    assert age("not a time", now) == "?" and age(None, now) == "?"  # RunPod's answer, never a traceback
    assert age("2026-11-24T09:00:00.000Z", now) == "3d03h"
    assert age(None, now) == "?"
