"""Compatibility rules, table-driven: every vLLM range boundary, every GPU type, aliases, unknown names."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from components import compat
from components.compat.cli import main
from components.compat.gpus import _norm
from tests.conftest import ROOT

FLOORS = [
    ("0.4.2", "12.4", "550.54.14"),
    ("0.6.5", "12.4", "550.54.14"),
    ("0.8.5", "12.4", "550.54.14"),
    ("0.9.0", "12.8", "570.26"),
    ("0.10.1.1", "12.8", "570.26"),
    ("0.11.0", "12.8", "570.26"),
    ("0.11.1", "12.9", "575.51.03"),
    ("v0.12.0", "12.9", "575.51.03"),
    ("0.19.1", "12.9", "575.51.03"),
    ("0.19.9", "12.9", "575.51.03"),
    ("0.20.0", "13.0", "580.65.06"),
    ("0.21.0-cu129", "12.9", "575.51.03"),
    ("0.33.0", "13.0", "580.65.06"),
]


@pytest.mark.parametrize(("version", "cuda", "driver"), FLOORS)
def test_cuda_floor_per_vllm_range(version: str, cuda: str, driver: str) -> None:
    floor = compat.cuda_floor(version)
    assert (floor.cuda, floor.min_driver) == (cuda, driver)


@pytest.mark.parametrize("bad", ["latest", "", "0", "v.1.2", "nightly-0.12"])
def test_bad_versions_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a version"):
        compat.parse_version(bad)


def test_cuda_comparison_is_numeric() -> None:
    assert compat.cuda_at_least("12.11", "12.9")
    assert compat.cuda_at_least("13.0", "12.9")
    assert not compat.cuda_at_least("12.8", "12.9")


def test_gpu_table_covers_the_researched_types() -> None:
    ids = {g.id for g in compat.GPU_TYPES}
    researched = {
        "NVIDIA L40S", "NVIDIA L40", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA H100 80GB HBM3",
        "NVIDIA H100 NVL", "NVIDIA H200", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA RTX A6000",
        "NVIDIA RTX A5000", "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090", "NVIDIA B200",
    }
    assert researched <= ids
    assert len(ids) == len(compat.GPU_TYPES)  # no duplicate ids


@pytest.mark.parametrize("gpu", compat.GPU_TYPES, ids=lambda g: g.id)
def test_every_gpu_type_resolves_by_id_and_every_alias(gpu: compat.GpuType) -> None:
    for name in (gpu.id, gpu.id.lower(), *gpu.aliases, *(a.lower().replace(" ", "-") for a in gpu.aliases)):
        assert compat.resolve_gpu_type(name) == gpu
    assert gpu.vram_gb > 0 and compat.cc_tuple(gpu.compute_capability) >= (7, 0)


def test_aliases_are_unambiguous() -> None:
    seen: dict[str, str] = {}
    for gpu in compat.GPU_TYPES:
        for name in (gpu.id, *gpu.aliases):
            key = _norm(name)
            assert seen.setdefault(key, gpu.id) == gpu.id, f"{name!r} names two GPU types"


@pytest.mark.parametrize(("name", "suggested"), [
    ("L40Z", "NVIDIA L40S"),
    ("NVIDIA H100 PCI", "NVIDIA H100 PCIe"),
    ("RTX 4080", "NVIDIA GeForce RTX 4090"),
])
def test_unknown_gpu_names_suggest_the_closest_ids(name: str, suggested: str) -> None:
    with pytest.raises(compat.UnknownGpuType) as e:
        compat.resolve_gpu_type(name)
    assert suggested in e.value.suggestions
    assert name in str(e.value)


def test_autoglm_vram_estimate() -> None:
    need = compat.vram_needed_gib(compat.AUTOGLM_PHONE_9B, 25480)
    # 20.6 GB of weights (19.2 GiB) + 4 GiB overhead + 25480 × 40 KiB of KV (0.97 GiB)
    assert need == pytest.approx(19.185 + 4.0 + 0.972, abs=0.01)


@pytest.mark.parametrize("gpu", compat.GPU_TYPES, ids=lambda g: g.id)
def test_every_gpu_type_verdict_for_autoglm(gpu: compat.GpuType) -> None:
    problems = compat.check_plan("0.12.0", [gpu.id], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    fits = gpu.vram_gb >= 32 and compat.cc_tuple(gpu.compute_capability) >= (8, 0)
    assert (problems == []) is fits, [str(p) for p in problems]
    for p in problems:
        assert p.setting == "gpuTypes" and "NVIDIA L40S" in p.fix


def test_two_24gb_cards_fit_where_one_does_not() -> None:
    assert compat.check_plan("0.12.0", ["RTX 4090"], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    assert compat.check_plan("0.12.0", ["RTX 4090"], 2, "zai-org/AutoGLM-Phone-9B", 25480) == []


def test_old_vllm_refused_for_autoglm_with_the_fix() -> None:
    (problem,) = compat.check_plan("0.6.5", ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    assert problem.setting == "vllmVersion"
    assert "needs vLLM ≥ 0.12.0" in problem.message and "0.12.0 or newer" in problem.fix


def test_context_longer_than_the_model_refused() -> None:
    (problem,) = compat.check_plan("0.12.0", ["H100"], 1, "zai-org/AutoGLM-Phone-9B", 65536)
    assert problem.setting == "maxModelLen" and "32768" in problem.fix


def test_unknown_model_checks_only_what_is_known() -> None:
    assert compat.check_plan("0.12.0", ["RTX 4090"], 1, "someone/other-model", 25480) == []
    assert compat.check_plan("0.9.0", ["RTX 5090"], 1, "someone/other-model", 4096)[0].setting == "vllmVersion"


def test_unknown_gpu_and_empty_list_and_bad_count() -> None:
    problems = compat.check_plan("0.12.0", ["L40Z"], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    assert [p.setting for p in problems] == ["gpuTypes"] and "NVIDIA L40S" in problems[0].fix
    assert compat.check_plan("0.12.0", [], 1, "zai-org/AutoGLM-Phone-9B", 25480)[0].setting == "gpuTypes"
    assert compat.check_plan("0.12.0", ["L40S"], 0, "zai-org/AutoGLM-Phone-9B", 25480)[0].setting == "gpuCount"


@pytest.mark.parametrize(("disk", "volume", "ok"), [(70, False, True), (31, False, True), (30, False, False),
                                                    (10, True, True), (9, True, False)])
def test_container_disk_floor(disk: int, volume: bool, ok: bool) -> None:
    problems = compat.check_plan("0.12.0", ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480, disk, volume)
    assert (problems == []) is ok
    if not ok:
        assert problems[0].setting == "containerDiskGb" and "networkVolumeId" in problems[0].fix


# ---- the command ------------------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_cli_ok_for_a6000() -> None:
    code, out = run_cli("--vllm", "0.12.0", "--gpu", "NVIDIA RTX A6000")
    assert code == 0
    assert "CUDA ≥ 12.9" in out and "driver ≥ 575.51.03" in out
    assert "NVIDIA RTX A6000: 48 GB" in out and "OK: this combination can work." in out


def test_cli_cannot_work_lists_problems_and_fixes() -> None:
    code, out = run_cli("--vllm", "0.6.5", "--gpu", "4090", "--gpu", "L40S")
    assert code == 1
    assert "CANNOT WORK" in out and "needs vLLM ≥ 0.12.0" in out and "not enough VRAM" in out
    assert "fix: choose a card that fits" in out


def test_cli_takes_a_v_prefixed_version_like_the_setting() -> None:
    code, out = run_cli("--vllm", "v0.12.0", "--gpu", "L40S")
    assert code == 0 and "vllm/vllm-openai:v0.12.0 needs" in out and "vv0" not in out


def test_cli_max_model_len_and_model() -> None:
    code, out = run_cli("--gpu", "4090", "--max-model-len", "4096", "--model", "someone/small-model")
    assert code == 0 and "VRAM fit not checked" in out


@pytest.mark.parametrize("argv", [[], ["--gpu", "L40Z"], ["--gpu", "L40S", "--vllm", "latest"],
                                  ["--gpu", "L40S", "--gpu-count", "0"], ["--gpu", "L40S", "--gpu-count", "9"],
                                  ["--bogus"]])
def test_cli_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli(*argv)
    assert code == 2
    if "L40Z" in argv:
        assert "NVIDIA L40S" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "key", "value"), [
    ("--max-model-len", "maxModelLen", "100"), ("--max-model-len", "maxModelLen", "0"),
    ("--max-model-len", "maxModelLen", "256"), ("--max-model-len", "maxModelLen", "2048"),
    ("--gpu-count", "gpuCount", "0"), ("--gpu-count", "gpuCount", "8"), ("--gpu-count", "gpuCount", "two"),
    ("--model", "model", "AutoGLM-Phone-9B"), ("--model", "model", "someone/small-model"),
    ("--vllm", "vllmVersion", "latest"), ("--vllm", "vllmVersion", "v0.13.0"),
])
def test_cli_accepts_exactly_what_the_stack_setting_accepts(flag: str, key: str, value: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from components.settings import SettingsError, parse_settings

    try:
        parse_settings({"gpuTypes": '["NVIDIA L40S", "NVIDIA H100 PCIe"]',
                        "imageRepository": "ghcr.io/acme/autoglm-vllm", key: value}, "dev")
        preview_refuses = False
    except SettingsError:
        preview_refuses = True
    code, _ = run_cli("--gpu", "L40S", "--gpu", "H100 PCIe", flag, value)
    assert (code == 2) is preview_refuses
    if preview_refuses:  # the message names the one flag at fault, and the setting it follows
        error_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"argument {flag}:" in error_line and f"(as the {key} setting)" in error_line
        assert not ({"--gpu-count", "--max-model-len", "--model", "--vllm"} - {flag}) & set(error_line.split())


def test_cli_max_model_len_zero_blames_only_itself(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli("--gpu", "L40S", "--max-model-len", "0")
    error_line = capsys.readouterr().err.strip().splitlines()[-1]  # after the usage lines
    assert code == 2 and "--max-model-len: expected a whole number from 256 to 1048576" in error_line
    assert "gpu-count" not in error_line


def test_cli_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--help")[0] == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--gpu-count N GPUs per pod, 1–8" in help_text
    assert "--max-model-len TOKENS vLLM's context length in tokens, 256–1048576" in help_text


def test_cli_list() -> None:
    code, out = run_cli("--list")
    assert code == 0 and all(g.id in out for g in compat.GPU_TYPES)


def test_cli_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "components.compat", "--gpu", "L40S"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK: this combination can work." in done.stdout
    bad = subprocess.run([sys.executable, "-m", "components.compat", "--gpu", "T4000"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown GPU type 'T4000'" in bad.stderr


@pytest.mark.parametrize("auto", ["auto", "Auto", "AUTO"])
def test_auto_after_listed_types_names_only_the_others(auto: str) -> None:
    out = io.StringIO()
    assert main(["--gpu", "L40S", "--gpu", auto], out=out) == 0
    (auto_line,) = [line for line in out.getvalue().splitlines() if line.startswith("auto:")]
    assert "NVIDIA L40S" not in auto_line and "NVIDIA H100 PCIe" in auto_line
