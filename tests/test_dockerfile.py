"""docker/Dockerfile and .dockerignore, parsed with dockerfile-parse and with the build arguments image.py passes."""

from __future__ import annotations

import fnmatch
import json

import pytest
from dockerfile_parse import DockerfileParser

from components import compat
from components.image import DOCKER_DIR, VllmImageArgs, build_args, launch_args
from components.settings import DEFAULTS

VERSIONS = ["0.12.0", "0.19.1", "0.21.0-cu129", "0.24.0"]


def parsed(vllm_version: str | None = None, model: str = DEFAULTS["model"]) -> DockerfileParser:
    """The Dockerfile with image.py's build arguments for `vllm_version`, or with its own defaults when None."""
    args = {} if vllm_version is None else build_args(VllmImageArgs("ghcr.io/acme/autoglm-vllm", vllm_version, model))
    return DockerfileParser(str(DOCKER_DIR / "Dockerfile"), build_args=args)


def instructions(dfp: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in dfp.structure if i["instruction"] == name]


@pytest.mark.parametrize("version", VERSIONS)
def test_base_image_tag_follows_the_vllm_version(version: str) -> None:
    assert parsed(version).baseimage == f"vllm/vllm-openai:v{version}"


@pytest.mark.parametrize("version", VERSIONS)
def test_labels_record_vllm_version_cuda_floor_and_model(version: str) -> None:
    model = "zai-org/AutoGLM-Phone-9B-Multilingual"
    labels = parsed(version, model).labels
    floor = compat.cuda_floor(version)
    assert labels["autoglm-runpod.vllm.version"] == version
    assert labels["autoglm-runpod.cuda.floor"] == floor.cuda
    assert labels["autoglm-runpod.cuda.min-driver"] == floor.min_driver
    assert labels["autoglm-runpod.model"] == model
    assert labels["org.opencontainers.image.base.name"] == f"docker.io/vllm/vllm-openai:v{version}"
    assert labels["org.opencontainers.image.title"] and labels["org.opencontainers.image.description"]


@pytest.mark.parametrize("version", VERSIONS)
def test_start_script_reads_the_floor_and_version_baked_into_env(version: str) -> None:
    envs = parsed(version).envs
    assert envs["CUDA_FLOOR"] == compat.cuda_floor(version).cuda
    assert envs["CUDA_MIN_DRIVER"] == compat.cuda_floor(version).min_driver
    assert envs["IMAGE_VLLM_VERSION"] == version
    assert envs["MODEL"] == DEFAULTS["model"]


def test_image_py_passes_exactly_the_declared_build_arguments() -> None:
    declared = set(parsed().args)
    assert declared == set(build_args(VllmImageArgs("ghcr.io/acme/x", "0.12.0", "zai-org/AutoGLM-Phone-9B")))


def test_dockerfile_defaults_are_what_image_py_passes_for_the_default_settings() -> None:
    defaults = parsed().args
    passed = build_args(VllmImageArgs("ghcr.io/acme/x", DEFAULTS["vllmVersion"], DEFAULTS["model"]))
    assert defaults == passed


@pytest.mark.parametrize("version", ["0.12.0", "0.19.1"])
def test_transformers_upgrade_installs_the_requirement_for_the_version(version: str) -> None:
    dfp = parsed(version)
    runs = instructions(dfp, "RUN")
    assert len(runs) == 1
    assert 'uv pip install --system --no-cache "${TRANSFORMERS_REQUIREMENT}"' in runs[0]
    assert 'python3 -m pip install --no-cache-dir "${TRANSFORMERS_REQUIREMENT}"' in runs[0]
    assert dfp.args["TRANSFORMERS_REQUIREMENT"].startswith("transformers")


def test_entrypoint_is_the_start_script_copied_into_the_image() -> None:
    dfp = parsed()
    copies = [v.split() for v in instructions(dfp, "COPY")]
    assert copies == [["--chmod=0755", "start.sh", "/usr/local/bin/autoglm-start"]]
    assert json.loads(instructions(dfp, "ENTRYPOINT")[0]) == ["/usr/local/bin/autoglm-start"]
    assert instructions(dfp, "CMD") == []
    assert instructions(dfp, "EXPOSE") == ["8000"]


def test_no_local_media_flag_anywhere() -> None:
    for instruction in parsed().structure:
        assert "allowed-local-media-path" not in instruction["value"], instruction
    code = [ln for ln in (DOCKER_DIR / "start.sh").read_text().splitlines() if not ln.lstrip().startswith("#")]
    assert not [ln for ln in code if "allowed-local-media-path" in ln]
    line = launch_args(model="m/x", served_model_name="x", max_model_len=100, gpu_count=2)
    assert "allowed-local-media-path" not in line


def dockerignore_excludes(relative: str) -> bool:
    """Docker's rule, for the simple patterns used here: the last matching line decides, `!` re-includes."""
    excluded = False
    for raw in (DOCKER_DIR / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if fnmatch.fnmatchcase(relative, line.lstrip("!")):
            excluded = not negated
    return excluded


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    copied = {v.split()[-2] for v in instructions(parsed(), "COPY")}
    assert copied == {"start.sh"}
    for name in copied:
        assert not dockerignore_excludes(name), name
    for stray in ("notes.md", ".env", "weights.safetensors", ".dockerignore"):
        assert dockerignore_excludes(stray), stray


def test_nginx_comes_from_the_base_images_own_distribution() -> None:
    (run,) = instructions(parsed(), "RUN")
    assert "apt-get update" in run
    assert "apt-get install -y --no-install-recommends nginx " in run  # the package both Ubuntu releases hold
    assert "rm -rf /var/lib/apt/lists/*" in run
