"""docker/start.sh, run for real with bash and nginx: stub `nvidia-smi` and `vllm` on a PATH that holds nothing else.

The `vllm` stub records the arguments and the cache variables it was started with; the `nvidia-smi` stub prints
the banner of a driver that supports $STUB_CUDA (tests/start_script.py). The routes nginx serves are in
tests/test_proxy.py.
"""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest

from components.image import cache_env, launch_args, launch_env
from components.settings import SettingsError, parse_settings
from tests.start_script import StartScript
from tests.test_settings import SAFE_KEYS, UNSAFE_KEYS

OPEN_AUTOGLM_LINE = [
    "serve", "zai-org/AutoGLM-Phone-9B",
    "--served-model-name", "autoglm-phone-9b",
    "--max-model-len", "25480",
    "--mm-encoder-tp-mode", "data",
    "--mm_processor_cache_type", "shm",
    "--mm_processor_kwargs", '{"max_pixels":5000000}',
    "--limit-mm-per-prompt", '{"image":10}',
    "--chat-template-content-format", "string",
    "--host", "127.0.0.1",  # behind nginx, which alone listens on the pod's port (8000)
    "--port", "8001",
]


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
    ("VLLM_PORT", "8081", "--port"),
])
def test_each_flag_is_overridable_by_environment(script: StartScript, variable: str, value: str,
                                                 flag: str | None) -> None:
    argv = script.run({variable: value}).argv
    position = 1 if flag is None else OPEN_AUTOGLM_LINE.index(flag) + 1
    expected = list(OPEN_AUTOGLM_LINE)
    expected[position] = value
    assert argv == expected


def test_empty_override_keeps_the_default(script: StartScript) -> None:
    assert script.run({"SERVED_MODEL_NAME": "", "VLLM_PORT": ""}).argv == OPEN_AUTOGLM_LINE


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
    line = shlex.split(launch_args(model=model, served_model_name=name, max_model_len=length, gpu_count=gpu_count))
    # The same flags; only where vLLM listens differs (a ready image has no nginx in front of it).
    at = line.index("--port")
    line[at:at + 2] = ["--host", "127.0.0.1", "--port", "8001"]
    assert script.run(env).argv == ["serve", *line]


def test_api_key_reaches_vllm_by_environment_never_on_its_command_line(script: StartScript) -> None:
    # vLLM logs its non-default arguments (the key among them, before it redacted it) into the pod's log.
    key = "sk-test-very-secret-4242"
    run = script.run({"VLLM_API_KEY": key})
    assert run.seen("VLLM_API_KEY") == key
    assert "--api-key" not in run.argv and key not in run.argv
    assert key not in run.stdout + run.stderr


@pytest.mark.parametrize("env", [{}, {"VLLM_API_KEY": ""}])
def test_no_api_key_flag_when_unset_or_empty(script: StartScript, env: dict[str, str]) -> None:
    run = script.run(env)
    assert run.returncode == 0
    assert "--api-key" not in run.argv


def test_with_a_key_nginx_lets_v1_through_only_with_it_and_only_root_reads_the_config(script: StartScript) -> None:
    key = "sk-test-very-secret-4242"
    run = script.run({"VLLM_API_KEY": key})
    assert run.returncode == 0, run.stderr
    conf = run.proxy_dir / "nginx.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    text = conf.read_text()
    assert text.count(key) == 1
    assert f'if ($http_authorization != "Bearer {key}") {{' in text
    assert "/v1/ only with the API key" in run.stdout
    assert key not in run.stdout + run.stderr


@pytest.mark.parametrize("env", [{}, {"VLLM_API_KEY": ""}])
def test_without_a_key_v1_is_open_and_said_to_be(script: StartScript, env: dict[str, str]) -> None:
    run = script.run(env)
    assert run.returncode == 0, run.stderr
    text = (run.proxy_dir / "nginx.conf").read_text()
    assert "http_authorization" not in text and "location /v1/ {" in text
    assert "/v1/ is open to anyone (public endpoint)" in run.stdout


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_a_key_nginx_cannot_hold_stops_the_script_as_the_settings_refuse_it(script: StartScript, key: str) -> None:
    with pytest.raises(SettingsError):
        parse_settings({"gpuTypes": "L40S", "imageRepository": "ghcr.io/acme/x", "vllmApiKey": key}, "dev")
    run = script.run({"VLLM_API_KEY": key})
    assert run.returncode != 0 and run.record is None
    assert not (run.proxy_dir / "nginx.conf").exists()
    assert "VLLM_API_KEY holds characters nginx's configuration cannot hold" in run.stderr
    assert "autoglm-runpod:vllmApiKey" in run.stderr
    assert "0123456789abcdef" not in run.stdout + run.stderr


@pytest.mark.parametrize("key", SAFE_KEYS[:2] + SAFE_KEYS[3:4])
def test_a_key_the_settings_accept_starts_the_script(script: StartScript, key: str) -> None:
    parse_settings({"gpuTypes": "L40S", "imageRepository": "ghcr.io/acme/x", "vllmApiKey": key}, "dev")
    run = script.run({"VLLM_API_KEY": key})
    assert run.returncode == 0, run.stderr
    assert run.seen("VLLM_API_KEY") == key and "--api-key" not in run.argv


@pytest.mark.parametrize(("env", "message"), [
    ({"PORT": "8001"}, "PORT and VLLM_PORT are both 8001"),
    ({"PROXY_HOST": "::"}, "PROXY_HOST=:: is not an IPv4 address"),
    ({"PROXY_DIR": "/tmp/a dir"}, "PROXY_DIR=/tmp/a dir cannot go into nginx's configuration"),
    ({"PROXY_ACCESS_LOG": "/tmp/x;y"}, "PROXY_ACCESS_LOG=/tmp/x;y cannot go into nginx's configuration"),
    ({"CACHE_BEAT_S": "30", "CACHE_STALE_S": "30"}, "CACHE_BEAT_S=30 is not below CACHE_STALE_S=30"),
])
def test_proxy_settings_nginx_cannot_use_stop_before_anything_starts(script: StartScript, env: dict[str, str],
                                                                     message: str) -> None:
    run = script.run(env)
    assert run.returncode != 0 and run.record is None
    assert message in run.stderr


@pytest.mark.parametrize("key_args", [("--api-key=inline-secret",), ("--api-key", "inline-secret")])
def test_container_arguments_are_appended_and_inline_keys_masked(script: StartScript,
                                                                 key_args: tuple[str, ...]) -> None:
    run = script.run({}, "--gpu-memory-utilization", "0.85", *key_args)
    assert run.argv == [*OPEN_AUTOGLM_LINE, "--gpu-memory-utilization", "0.85", *key_args]
    assert "inline-secret" not in run.stdout + run.stderr


def test_printed_command_line_can_be_pasted_into_a_shell(script: StartScript) -> None:
    run = script.run({"SERVED_MODEL_NAME": "it's mine"})
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("autoglm-start: exec "))
    assert shlex.split(line.removeprefix("autoglm-start: exec ")) == ["vllm", *run.argv]


@pytest.mark.parametrize("variable", ["MAX_MODEL_LEN", "TENSOR_PARALLEL_SIZE", "PORT", "VLLM_PORT"])
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
    # Forward compatibility is opt-in from vLLM 0.17: the hint must name both switches.
    assert "SKIP_CUDA_CHECK=1" in run.stderr and "VLLM_ENABLE_CUDA_COMPATIBILITY=1" in run.stderr


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
