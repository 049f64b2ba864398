"""docker/start.sh, run for real with bash: stub `nvidia-smi` and `vllm` on a PATH that holds nothing else.

The `vllm` stub records the arguments and the cache variables it was exec'd with; the `nvidia-smi` stub prints
the banner of a driver that supports $STUB_CUDA.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.image import cache_env, launch_args, launch_env
from tests.conftest import ROOT

START = ROOT / "docker" / "start.sh"

OPEN_AUTOGLM_LINE = [
    "serve", "zai-org/AutoGLM-Phone-9B",
    "--served-model-name", "autoglm-phone-9b",
    "--max-model-len", "25480",
    "--mm-encoder-tp-mode", "data",
    "--mm_processor_cache_type", "shm",
    "--mm_processor_kwargs", '{"max_pixels":5000000}',
    "--limit-mm-per-prompt", '{"image":10}',
    "--chat-template-content-format", "string",
    "--port", "8000",
]

VLLM_STUB = f"""#!{sys.executable}
import json, os, sys
seen = {{k: os.environ.get(k) for k in ("HF_HOME", "VLLM_CACHE_ROOT", "VLLM_API_KEY")}}
with open(os.environ["STUB_RECORD"], "w") as f:
    json.dump({{"argv": sys.argv[1:], "env": seen}}, f)
"""

NVIDIA_SMI_STUB = """#!/bin/bash
cat <<BANNER
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 575.57.08              Driver Version: 575.57.08      CUDA Version: ${STUB_CUDA}     |
|-----------------------------------------+------------------------+----------------------+
BANNER
"""

# What the Dockerfile bakes into the image for vLLM 0.12.0, and the nvidia/cuda base's own CUDA_VERSION.
IMAGE_ENV = {"CUDA_FLOOR": "12.9", "CUDA_MIN_DRIVER": "575.51.03", "IMAGE_VLLM_VERSION": "0.12.0",
             "CUDA_VERSION": "12.9.1"}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    record: dict[str, Any] | None  # None: vllm was never exec'd

    @property
    def argv(self) -> list[str]:
        assert self.record is not None, f"vllm was not started:\n{self.stdout}\n{self.stderr}"
        argv: list[str] = self.record["argv"]
        return argv

    def seen(self, name: str) -> str | None:
        assert self.record is not None
        value: str | None = self.record["env"][name]
        return value


class StartScript:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for tool in ("bash", "mkdir", "cat"):  # all the script and the stubs need besides the stubs
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        self._stub("vllm", VLLM_STUB)
        self.record = tmp_path / "vllm.json"

    def _stub(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)

    def with_driver(self) -> StartScript:
        self._stub("nvidia-smi", NVIDIA_SMI_STUB)
        return self

    def run(self, env: dict[str, str] | None = None, *args: str, host_cuda: str = "12.9") -> Run:
        full = {"PATH": str(self.bin), "STUB_RECORD": str(self.record), "STUB_CUDA": host_cuda, **IMAGE_ENV,
                **(env or {})}
        done = subprocess.run([str(self.bin / "bash"), str(START), *args], env=full, capture_output=True,
                              text=True, timeout=30, check=False)
        record = json.loads(self.record.read_text()) if self.record.exists() else None
        return Run(done.returncode, done.stdout, done.stderr, record)


@pytest.fixture
def script(tmp_path: Path) -> StartScript:
    return StartScript(tmp_path).with_driver()


def test_default_line_is_open_autoglms_without_local_media_or_key(script: StartScript) -> None:
    run = script.run()
    assert run.returncode == 0, run.stderr
    assert run.argv == OPEN_AUTOGLM_LINE
    assert "--api-key" not in run.argv and "--tensor-parallel-size" not in run.argv
    assert not any("allowed-local-media-path" in a for a in run.argv)


@pytest.mark.parametrize(("variable", "value", "flag"), [
    ("MODEL", "zai-org/AutoGLM-Phone-9B-Multilingual", None),
    ("SERVED_MODEL_NAME", "autoglm-phone-9b-multilingual", "--served-model-name"),
    ("MAX_MODEL_LEN", "16384", "--max-model-len"),
    ("MM_ENCODER_TP_MODE", "weights", "--mm-encoder-tp-mode"),
    ("MM_PROCESSOR_CACHE_TYPE", "lru", "--mm_processor_cache_type"),
    ("MM_PROCESSOR_KWARGS", '{"max_pixels":2000000}', "--mm_processor_kwargs"),
    ("LIMIT_MM_PER_PROMPT", '{"image":4}', "--limit-mm-per-prompt"),
    ("CHAT_TEMPLATE_CONTENT_FORMAT", "openai", "--chat-template-content-format"),
    ("PORT", "8080", "--port"),
])
def test_each_flag_is_overridable_by_environment(script: StartScript, variable: str, value: str,
                                                 flag: str | None) -> None:
    argv = script.run({variable: value}).argv
    position = 1 if flag is None else OPEN_AUTOGLM_LINE.index(flag) + 1
    expected = list(OPEN_AUTOGLM_LINE)
    expected[position] = value
    assert argv == expected


def test_empty_override_keeps_the_default(script: StartScript) -> None:
    assert script.run({"SERVED_MODEL_NAME": "", "PORT": ""}).argv == OPEN_AUTOGLM_LINE


@pytest.mark.parametrize(("size", "expected"), [("1", None), ("2", "2"), ("4", "4")])
def test_tensor_parallel_only_beyond_one_gpu(script: StartScript, size: str, expected: str | None) -> None:
    argv = script.run({"TENSOR_PARALLEL_SIZE": size}).argv
    if expected is None:
        assert "--tensor-parallel-size" not in argv
    else:
        assert argv[argv.index("--tensor-parallel-size") + 1] == expected


@pytest.mark.parametrize("gpu_count", [1, 2])
def test_launch_env_starts_the_line_launch_args_gives_a_ready_image(script: StartScript, gpu_count: int) -> None:
    model, name, length = "zai-org/AutoGLM-Phone-9B-Multilingual", "autoglm-ml", 20000
    env = launch_env(model=model, served_model_name=name, max_model_len=length, gpu_count=gpu_count,
                     volume_mount_path=None)
    line = launch_args(model=model, served_model_name=name, max_model_len=length, gpu_count=gpu_count)
    assert script.run(env).argv == ["serve", *shlex.split(line)]


def test_api_key_passed_when_set_and_never_printed(script: StartScript) -> None:
    key = "sk-test-very-secret-4242"
    run = script.run({"VLLM_API_KEY": key})
    assert run.argv[-2:] == ["--api-key", key]
    assert key not in run.stdout + run.stderr
    assert "--api-key '****'" in run.stdout


@pytest.mark.parametrize("env", [{}, {"VLLM_API_KEY": ""}])
def test_no_api_key_flag_when_unset_or_empty(script: StartScript, env: dict[str, str]) -> None:
    run = script.run(env)
    assert run.returncode == 0
    assert "--api-key" not in run.argv


def test_container_arguments_are_appended_and_inline_keys_masked(script: StartScript) -> None:
    run = script.run({}, "--gpu-memory-utilization", "0.85", "--api-key=inline-secret")
    assert run.argv == [*OPEN_AUTOGLM_LINE, "--gpu-memory-utilization", "0.85", "--api-key=inline-secret"]
    assert "inline-secret" not in run.stdout + run.stderr


def test_printed_command_line_can_be_pasted_into_a_shell(script: StartScript) -> None:
    run = script.run({"SERVED_MODEL_NAME": "it's mine"})
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("autoglm-start: exec "))
    assert shlex.split(line.removeprefix("autoglm-start: exec ")) == ["vllm", *run.argv]


@pytest.mark.parametrize("variable", ["MAX_MODEL_LEN", "TENSOR_PARALLEL_SIZE", "PORT"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5"])
def test_bad_counts_stop_before_vllm_naming_the_variable(script: StartScript, variable: str, value: str) -> None:
    run = script.run({variable: value})
    assert run.returncode != 0 and run.record is None
    assert f"{variable}={value} is not a positive integer" in run.stderr


def test_caches_go_to_the_mounted_volume(script: StartScript, tmp_path: Path) -> None:
    volume = tmp_path / "workspace"
    volume.mkdir()
    run = script.run({"VOLUME_PATH": str(volume)})
    expected = cache_env(str(volume))
    assert run.seen("HF_HOME") == expected["HF_HOME"] == f"{volume}/hf"
    assert run.seen("VLLM_CACHE_ROOT") == expected["VLLM_CACHE_ROOT"] == f"{volume}/vllm"
    assert (volume / "hf").is_dir() and (volume / "vllm").is_dir()
    assert f"HF_HOME={volume}/hf" in run.stdout


def test_an_explicit_hf_home_wins_over_the_volume(script: StartScript, tmp_path: Path) -> None:
    volume = tmp_path / "workspace"
    volume.mkdir()
    mine = tmp_path / "my-hf"
    run = script.run({"VOLUME_PATH": str(volume), "HF_HOME": str(mine)})
    assert run.seen("HF_HOME") == str(mine)
    assert run.seen("VLLM_CACHE_ROOT") == f"{volume}/vllm"


def test_missing_volume_warns_and_keeps_the_default_cache(script: StartScript, tmp_path: Path) -> None:
    run = script.run({"VOLUME_PATH": str(tmp_path / "not-mounted")})
    assert run.returncode == 0
    assert run.seen("HF_HOME") is None and run.seen("VLLM_CACHE_ROOT") is None
    assert "not a writable directory" in run.stderr


def test_no_volume_no_cache_variables(script: StartScript) -> None:
    run = script.run()
    assert run.seen("HF_HOME") is None and run.seen("VLLM_CACHE_ROOT") is None


@pytest.mark.parametrize(("host", "floor"), [("12.9", "12.9"), ("13.0", "12.9"), ("12.10", "12.9"),
                                             ("13.1", "13.0")])
def test_new_enough_driver_starts_and_both_versions_are_printed(script: StartScript, host: str,
                                                                floor: str) -> None:
    run = script.run({"CUDA_FLOOR": floor}, host_cuda=host)
    assert run.returncode == 0, run.stderr
    assert f"host driver CUDA {host}; image CUDA 12.9.1 (vLLM 0.12.0) needs >= {floor}" in run.stdout
    assert run.argv == OPEN_AUTOGLM_LINE


@pytest.mark.parametrize(("host", "floor"), [("12.8", "12.9"), ("12.4", "12.9"), ("12.9", "13.0")])
def test_too_old_driver_stops_at_once_naming_both_versions_and_the_fix(script: StartScript, host: str,
                                                                        floor: str) -> None:
    run = script.run({"CUDA_FLOOR": floor}, host_cuda=host)
    assert run.returncode != 0
    assert run.record is None
    assert f"supports CUDA {host}" in run.stderr
    assert f"needs CUDA >= {floor}" in run.stderr
    assert f"Fix: run on a host whose driver supports CUDA >= {floor}" in run.stderr


def test_skip_cuda_check_starts_an_old_driver_with_a_warning(script: StartScript) -> None:
    run = script.run({"SKIP_CUDA_CHECK": "1"}, host_cuda="12.8")
    assert run.returncode == 0
    assert "warning: the host's NVIDIA driver supports CUDA 12.8" in run.stderr
    assert run.argv == OPEN_AUTOGLM_LINE


def test_without_nvidia_smi_the_host_cuda_is_unknown_and_vllm_decides(tmp_path: Path) -> None:
    run = StartScript(tmp_path).run()
    assert run.returncode == 0
    assert "host driver CUDA: unknown" in run.stdout
    assert run.argv == OPEN_AUTOGLM_LINE


def test_image_without_a_cuda_floor_is_a_build_error(script: StartScript) -> None:
    run = script.run({"CUDA_FLOOR": ""})
    assert run.returncode != 0 and run.record is None
    assert "CUDA_FLOOR" in run.stderr
