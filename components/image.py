"""The AutoGLM-ready vLLM image: its declared build and push, and the launch line a pod runs it with.

`VllmImage` declares `docker buildx build --push` of `docker/` as a pulumi-command `local.Command` and exposes the
pushed image as `repository@sha256:…`, read from buildx's metadata file. The Command's triggers hash the content
of `docker/`, the build arguments and the repository, so an unchanged image is never rebuilt; Command does not
run during preview, and it has no delete step, so destroying a stack never removes a pushed image (prod may run
the digest dev pushed).

Every path in the Command is relative to the project root, where the Pulumi engine starts the command provider:
an absolute path would differ between machines and rebuild the image on each of them.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_command import local

from components import compat
from components.image_ref import DIGEST_RE, PLATFORM_RE, validate_image_repository

__all__ = [
    "DOCKER_DIR",
    "ImageArgsError",
    "VllmImage",
    "VllmImageArgs",
    "build_args",
    "build_command",
    "cache_env",
    "content_hash",
    "launch_args",
    "launch_env",
    "ref_from_build_output",
    "transformers_requirement",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = PROJECT_ROOT / "docker"
BUILD_SCRIPT = PROJECT_ROOT / "components" / "buildx_push.sh"
# buildx_push.sh prints this line, then the metadata JSON, after the build log.
METADATA_MARKER = "--- buildx metadata ---"

SERVE_PORT = 8000
# Open-AutoGLM's launch flags besides the model, its name, context length and port (its README asks users to
# keep them exactly). docker/start.sh carries the same defaults; a test runs it to keep the two equal.
AUTOGLM_FLAGS: tuple[tuple[str, str], ...] = (
    ("--mm-encoder-tp-mode", "data"),
    ("--mm_processor_cache_type", "shm"),
    ("--mm_processor_kwargs", '{"max_pixels":5000000}'),
    ("--limit-mm-per-prompt", '{"image":10}'),
    ("--chat-template-content-format", "string"),
)



@dataclass
class VllmImageArgs:
    repository: str  # where the image is pushed, without tag: docker.io/yourname/autoglm-vllm
    vllm_version: str  # the vllm/vllm-openai tag without its "v"
    model: str  # Hugging Face id baked in as the default MODEL and recorded in a label
    context_dir: Path = field(default=DOCKER_DIR)
    platform: str = "linux/amd64"  # RunPod GPU hosts are x86-64


def transformers_requirement(vllm_version: str) -> str:
    """What the image installs on top of vLLM for AutoGLM (Open-AutoGLM asks for transformers 5).

    Up to 0.19.0 vLLM pins transformers < 5; Open-AutoGLM's tested pairing is 5.0.0rc0, pinned so a rebuild does
    not drift to a later 5.x that vLLM 0.12 never saw. From 0.19.1 the image already carries transformers ≥ 5
    (compat.releases), so the build only states that floor and keeps the version vLLM chose.
    """
    if not compat.ships_transformers_5(vllm_version):
        return "transformers==5.0.0rc0"
    return "transformers>=5.5.1"


def build_args(args: VllmImageArgs) -> dict[str, str]:
    """The Dockerfile's build arguments: the vLLM tag, its CUDA floor (for the start script and labels), the model."""
    floor = compat.cuda_floor(args.vllm_version)
    return {
        "VLLM_VERSION": args.vllm_version,
        "CUDA_FLOOR": floor.cuda,
        "CUDA_MIN_DRIVER": floor.min_driver,
        "MODEL": args.model,
        "TRANSFORMERS_REQUIREMENT": transformers_requirement(args.vllm_version),
    }


def content_hash(context_dir: Path) -> str:
    """SHA-256 over the relative path and bytes of every file under `context_dir` (file modes left out: git
    checkouts do not agree on them)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_triggers(*, context_hash: str, repository: str, platform: str, docker_args: dict[str, str]) -> list[str]:
    """What makes a rebuild: readable `key=value` strings, so `pulumi preview --diff` shows what changed."""
    return [f"context={context_hash}", f"repository={repository}", f"platform={platform}",
            *(f"{key}={value}" for key, value in sorted(docker_args.items()))]


def image_tag(vllm_version: str, triggers: list[str]) -> str:
    """`v0.12.0-<12 hex>`: the vLLM version for people, a hash of everything built for uniqueness."""
    build_id = hashlib.sha256("\n".join(triggers).encode()).hexdigest()
    return f"v{vllm_version}-{build_id[:12]}"


def _from_project_root(path: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(PROJECT_ROOT).as_posix() if resolved.is_relative_to(PROJECT_ROOT) else str(resolved)


def build_command(*, repository: str, tag: str, platform: str, docker_args: dict[str, str],
                  context_dir: Path) -> str:
    """The shell line the Command runs from the project root: buildx_push.sh with `docker buildx build` arguments.

    No attestations (`--provenance=false`), so the digest names a plain image manifest for the pod's runtime.
    """
    context = _from_project_root(context_dir)
    argv = ["bash", _from_project_root(BUILD_SCRIPT), repository, "--platform", platform, "--provenance=false",
            "--progress=plain", "--tag", f"{repository}:{tag}"]
    for key, value in sorted(docker_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    argv += ["--file", f"{context}/Dockerfile", context]
    return shlex.join(argv)


def ref_from_build_output(stdout: str | None, repository: str) -> str:
    """`repository@sha256:…` from buildx_push.sh's stdout (the metadata JSON after the marker line)."""
    _, marker, metadata_text = (stdout or "").rpartition(METADATA_MARKER)
    if not marker:
        raise ValueError("the image build printed no buildx metadata; rerun `pulumi up` and read the build log")
    try:
        metadata = json.loads(metadata_text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the buildx metadata is not JSON ({e})") from e
    digest = metadata.get("containerimage.digest") if isinstance(metadata, dict) else None
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise ValueError(f"the buildx metadata has no containerimage.digest (got {digest!r}); was the image pushed?")
    return f"{repository}@{digest}"


def _version_ok(vllm_version: str) -> bool:
    try:
        compat.split_tag(vllm_version)
    except ValueError:
        return False
    return vllm_version[:1].isdigit() and vllm_version == vllm_version.strip()


class ImageArgsError(ValueError):
    """VllmImageArgs that cannot build. The stack's settings refuse these values first, naming the setting;
    this guards other callers."""


def check_image_args(args: VllmImageArgs) -> None:
    """Raise before anything is declared when the build cannot work."""
    problem = validate_image_repository(args.repository)
    if problem:
        raise ImageArgsError(f"VllmImageArgs.repository {args.repository!r} (the imageRepository setting): {problem}")
    if not _version_ok(args.vllm_version):
        raise ImageArgsError(f"VllmImageArgs.vllm_version {args.vllm_version!r} (the vllmVersion setting): expected "
                             "a vllm/vllm-openai tag without its v, such as 0.12.0")
    if not PLATFORM_RE.match(args.platform):
        raise ImageArgsError(f"platform {args.platform!r} is not an os/arch pair such as linux/amd64")
    if not (args.context_dir / "Dockerfile").is_file():
        raise ImageArgsError(f"{args.context_dir} holds no Dockerfile; the image is built from {DOCKER_DIR}")


class VllmImage(pulumi.ComponentResource):
    """docker/ built with buildx and pushed to `repository`; `ref` is the pushed image pinned by digest."""

    ref: pulumi.Output[str]
    tag: str
    build: local.Command

    def __init__(self, name: str, args: VllmImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_image_args(args)
        super().__init__("autoglm:image:VllmImage", name, None, opts)
        docker_args = build_args(args)
        triggers = build_triggers(context_hash=content_hash(args.context_dir), repository=args.repository,
                                  platform=args.platform, docker_args=docker_args)
        self.tag = image_tag(args.vllm_version, triggers)
        # No `delete`: destroying the stack forgets the build but leaves the pushed image in the registry.
        self.build = local.Command(
            f"{name}-build",
            create=build_command(repository=args.repository, tag=self.tag, platform=args.platform,
                                 docker_args=docker_args, context_dir=args.context_dir),
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=self),
        )
        repository = args.repository
        self.ref = self.build.stdout.apply(lambda out: ref_from_build_output(out, repository))
        self.register_outputs({"ref": self.ref, "tag": self.tag})


def _check_launch(max_model_len: int, gpu_count: int) -> None:
    if max_model_len < 1:
        raise ValueError(f"max_model_len must be positive, got {max_model_len}")
    if gpu_count < 1:
        raise ValueError(f"gpu_count must be at least 1, got {gpu_count}")


def cache_env(volume_mount_path: str) -> dict[str, str]:
    """Hugging Face and vLLM (torch.compile) caches on the volume, as docker/start.sh lays them out."""
    root = volume_mount_path.rstrip("/")
    return {"HF_HOME": f"{root}/hf", "VLLM_CACHE_ROOT": f"{root}/vllm"}


def launch_env(*, model: str, served_model_name: str, max_model_len: int, gpu_count: int,
               volume_mount_path: str | None) -> dict[str, str]:
    """The environment the built image's start script reads. Secrets (HF_TOKEN, VLLM_API_KEY) are the caller's."""
    _check_launch(max_model_len, gpu_count)
    env = {"MODEL": model, "SERVED_MODEL_NAME": served_model_name, "MAX_MODEL_LEN": str(max_model_len),
           "TENSOR_PARALLEL_SIZE": str(gpu_count)}
    if volume_mount_path:
        env["VOLUME_PATH"] = volume_mount_path
    return env


def launch_args(*, model: str, served_model_name: str, max_model_len: int, gpu_count: int) -> str:
    """Arguments for a ready image whose ENTRYPOINT is `vllm serve` (vLLM ≥ 0.11.1), the same line the start
    script runs. The model is positional (`--model` is deprecated with `vllm serve`); never `--api-key` (vLLM
    reads VLLM_API_KEY from the environment, and the line is visible in the pod's settings)."""
    _check_launch(max_model_len, gpu_count)
    argv = [model, "--served-model-name", served_model_name, "--max-model-len", str(max_model_len)]
    for flag, value in AUTOGLM_FLAGS:
        argv += [flag, value]
    argv += ["--port", str(SERVE_PORT)]
    if gpu_count > 1:
        argv += ["--tensor-parallel-size", str(gpu_count)]
    return shlex.join(argv)
