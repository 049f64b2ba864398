"""components/image.py: the VllmImage component under Pulumi mocks, its build command run for real against a
stub `docker`, and the launch line helpers."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import image
from components.image import (
    DOCKER_DIR,
    METADATA_MARKER,
    ImageArgsError,
    VllmImage,
    VllmImageArgs,
    build_args,
    build_command,
    cache_env,
    content_hash,
    launch_args,
    launch_env,
    ref_from_build_output,
    transformers_requirement,
)
from tests.conftest import ROOT, RecordingMocks

REPO = "ghcr.io/acme/autoglm-vllm"
MODEL = "zai-org/AutoGLM-Phone-9B"
DIGEST = "sha256:" + "3f" * 32
COMMAND = "command:local:Command"

# What `docker buildx build --push --provenance=false --metadata-file F` writes (buildx 0.19).
METADATA: dict[str, Any] = {
    "buildx.build.ref": "default/default/k2yq1nqz0m0wq3vlfc3s6y0xv",
    "containerimage.config.digest": "sha256:" + "a1" * 32,
    "containerimage.descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                  "digest": DIGEST, "size": 4190},
    "containerimage.digest": DIGEST,
    "image.name": f"{REPO}:v0.12.0-0123456789ab",
}


def build_stdout(metadata: dict[str, Any] = METADATA) -> str:
    return f"{METADATA_MARKER}\n{json.dumps(metadata, indent=2)}"


def args(context_dir: Path = DOCKER_DIR, **changes: Any) -> VllmImageArgs:
    return VllmImageArgs(**{"repository": REPO, "vllm_version": "0.12.0", "model": MODEL,
                            "context_dir": context_dir, **changes})


def copy_of_docker_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DOCKER_DIR, tmp_path / "docker"))


def commands_by_name(mocks: RecordingMocks) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in mocks.of_type(COMMAND)}


@pytest.fixture
def mocks(pulumi_mocks: RecordingMocks) -> RecordingMocks:
    """Mocks whose Commands answer like a finished buildx_push.sh (an engine always has stdout after create)."""
    pulumi_mocks.hooks[COMMAND] = lambda _: {"stdout": build_stdout(), "stderr": ""}
    return pulumi_mocks


# ---- the component under mocks -------------------------------------------------------------------------------

@pulumi.runtime.test
def test_build_is_one_buildx_push_command_parented_by_the_component(mocks: RecordingMocks) -> Any:
    img = VllmImage("vllm", args())

    def check(values: list[Any]) -> None:
        urn = values[0]
        inputs = commands_by_name(mocks)["vllm-build"]
        argv = shlex.split(inputs["create"])
        assert argv[:3] == ["bash", "components/buildx_push.sh", REPO]
        flags = argv[3:]
        assert flags[flags.index("--platform") + 1] == "linux/amd64"
        assert flags[flags.index("--tag") + 1] == f"{REPO}:{img.tag}"
        assert img.tag.startswith("v0.12.0-") and len(img.tag) == len("v0.12.0-") + 12
        passed = [flags[i + 1] for i, f in enumerate(flags) if f == "--build-arg"]
        assert passed == ["CUDA_FLOOR=12.9", "CUDA_MIN_DRIVER=575.51.03", f"MODEL={MODEL}",
                          "TRANSFORMERS_REQUIREMENT=transformers==5.0.0rc0", "VLLM_VERSION=0.12.0"]
        assert flags[-3:] == ["--file", "docker/Dockerfile", "docker"]
        assert "--provenance=false" in flags
        assert "delete" not in inputs and "update" not in inputs  # destroy never removes a pushed image
        assert f"context={content_hash(DOCKER_DIR)}" in inputs["triggers"]
        assert f"repository={REPO}" in inputs["triggers"]
        assert "autoglm:image:VllmImage$command:local:Command::vllm-build" in urn
        assert [r.name for r in mocks.of_type("autoglm:image:VllmImage")] == ["vllm"]

    return pulumi.Output.all(img.build.urn).apply(check)


@pulumi.runtime.test
def test_triggers_are_stable_for_unchanged_content_and_change_with_it(mocks: RecordingMocks,
                                                                      tmp_path: Path) -> Any:
    context = copy_of_docker_dir(tmp_path)
    first = VllmImage("first", args(context))
    again = VllmImage("again", args(context))
    (context / "start.sh").write_text((context / "start.sh").read_text() + "# changed\n")
    edited = VllmImage("edited", args(context))
    newer_vllm = VllmImage("newer-vllm", args(context, vllm_version="0.13.0"))
    other_repo = VllmImage("other-repo", args(context, repository="docker.io/acme/autoglm-vllm"))
    other_model = VllmImage("other-model", args(context, model="zai-org/AutoGLM-Phone-9B-Multilingual"))
    images = [first, again, edited, newer_vllm, other_repo, other_model]

    def check(_: list[Any]) -> None:
        cmds = commands_by_name(mocks)
        triggers = {name: tuple(cmds[f"{name}-build"]["triggers"]) for name in
                    ("first", "again", "edited", "newer-vllm", "other-repo", "other-model")}
        assert triggers["first"] == triggers["again"]
        assert cmds["first-build"]["create"] == cmds["again-build"]["create"]
        assert first.tag == again.tag
        others = [triggers[n] for n in ("edited", "newer-vllm", "other-repo", "other-model")]
        assert len({triggers["first"], *others}) == 5
        assert len({img.tag for img in images}) == 5

    return pulumi.Output.all(*[img.build.urn for img in images]).apply(check)


@pulumi.runtime.test
def test_ref_is_the_repository_pinned_by_the_pushed_digest(mocks: RecordingMocks) -> Any:
    img = VllmImage("vllm", args())
    return img.ref.apply(lambda ref: _assert_equal(ref, f"{REPO}@{DIGEST}"))


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


@pytest.mark.parametrize("repository", [
    "", "Acme/AutoGLM", "autoglm-vllm", "ghcr.io/acme/autoglm-vllm:latest", f"ghcr.io/acme/autoglm@{DIGEST}",
    "ghcr.io/acme/auto glm", "https://ghcr.io/acme/autoglm",
])
@pulumi.runtime.test
def test_bad_repository_rejected_before_anything_is_declared(pulumi_mocks: RecordingMocks,
                                                             repository: str) -> Any:
    with pytest.raises(ImageArgsError, match="imageRepository"):
        VllmImage("vllm", args(repository=repository))
    return pulumi.Output.from_input(None).apply(lambda _: _assert_equal(pulumi_mocks.resources, []))


@pytest.mark.parametrize("version", ["v0.12.0", "latest", "", " 0.12.0"])
@pulumi.runtime.test
def test_bad_vllm_version_rejected_before_anything_is_declared(pulumi_mocks: RecordingMocks, version: str) -> Any:
    with pytest.raises(ImageArgsError, match="vllmVersion"):
        VllmImage("vllm", args(vllm_version=version))
    return pulumi.Output.from_input(None).apply(lambda _: _assert_equal(pulumi_mocks.resources, []))


@pulumi.runtime.test
def test_context_without_dockerfile_and_odd_platform_rejected(pulumi_mocks: RecordingMocks, tmp_path: Path) -> Any:
    with pytest.raises(ValueError, match="holds no Dockerfile"):
        VllmImage("vllm", args(tmp_path))
    with pytest.raises(ValueError, match="os/arch"):
        VllmImage("vllm", args(platform="amd64"))
    return pulumi.Output.from_input(None).apply(lambda _: _assert_equal(pulumi_mocks.resources, []))


# ---- content hash and build arguments ------------------------------------------------------------------------

def test_content_hash_follows_content_not_location_or_mode(tmp_path: Path) -> None:
    context = copy_of_docker_dir(tmp_path)
    original = content_hash(DOCKER_DIR)
    assert content_hash(context) == original
    (context / "start.sh").chmod(0o600)
    assert content_hash(context) == original
    (context / "notes.txt").write_text("x")
    with_note = content_hash(context)
    assert with_note != original
    (context / "notes.txt").rename(context / "notes2.txt")
    assert content_hash(context) not in (original, with_note)
    (context / "notes2.txt").unlink()
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text().replace("EXPOSE 8000", "EXPOSE 8001"))
    assert content_hash(context) != original


@pytest.mark.parametrize(("version", "requirement"), [
    ("0.12.0", "transformers==5.0.0rc0"), ("0.18.1", "transformers==5.0.0rc0"),
    # 0.19.0 still pins transformers < 5 (issue 14): the override stays; 0.19.1 is the first without it.
    ("0.19.0", "transformers==5.0.0rc0"), ("0.19.1", "transformers>=5.5.1"),
    ("0.21.0-cu129", "transformers>=5.5.1"), ("0.33.0", "transformers>=5.5.1"),
])
def test_transformers_requirement_per_vllm_range(version: str, requirement: str) -> None:
    assert transformers_requirement(version) == requirement


def test_build_args_carry_the_cuda_floor_of_the_version() -> None:
    passed = build_args(args(vllm_version="0.20.0"))
    assert (passed["CUDA_FLOOR"], passed["CUDA_MIN_DRIVER"]) == ("13.0", "580.65.06")
    assert passed["VLLM_VERSION"] == "0.20.0"


def test_paths_outside_the_project_stay_absolute(tmp_path: Path) -> None:
    line = build_command(repository=REPO, tag="t", platform="linux/amd64", docker_args={}, context_dir=tmp_path)
    assert shlex.split(line)[-3:] == ["--file", f"{tmp_path}/Dockerfile", str(tmp_path)]


# ---- the build command, run for real with a stub docker -----------------------------------------------------

DOCKER_STUB = f"""#!{sys.executable}
import json, os, sys
argv = sys.argv[1:]
mode = os.environ.get("STUB_DOCKER_MODE", "ok")
with open(os.environ["STUB_DOCKER_CALLS"], "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
if argv[:2] == ["buildx", "version"]:
    if mode == "no-buildx":
        sys.exit("docker: unknown command: docker buildx")
    print("github.com/docker/buildx v0.19.3 48d6a39")
    sys.exit(0)
if argv[:1] == ["pull"]:
    pull_failures = {{
        "pull-missing-tag": "Error response from daemon: manifest for vllm/vllm-openai:v0.12.0 not found: "
                            "manifest unknown: manifest unknown",
        "pull-offline": 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
                        "registry-1.docker.io on 127.0.0.53:53: no such host",
        "pull-rate-limited": "Error response from daemon: toomanyrequests: You have reached your unauthenticated "
                             "pull rate limit. https://www.docker.com/increase-rate-limit",
        "pull-bad-login": 'Error response from daemon: Head "https://registry-1.docker.io/v2/vllm/vllm-openai/'
                          'manifests/v0.12.0": unauthorized: incorrect username or password',
        "no-daemon": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                     "Is the docker daemon running?",
    }}
    if mode in pull_failures:
        sys.exit(pull_failures[mode])
    print(f"{{argv[-1].split(':')[-1]}}: Pulling from vllm/vllm-openai")
    print(f"Status: Image is up to date for {{argv[-1]}}")
    sys.exit(0)
if argv[:2] != ["buildx", "build"]:
    sys.exit(2)
print("#1 [internal] load build definition from Dockerfile")
print("#9 pushing layers", file=sys.stderr)
failures = {{
    "unauthorized": "ERROR: failed to push: unexpected status from HEAD request: 401 Unauthorized",
    "denied": "ERROR: failed to push: denied: requested access to the resource is denied",
    "no-daemon": "ERROR: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                 "Is the docker daemon running?",
    "broken": "ERROR: failed to solve: vllm/vllm-openai:v9.9.9: not found",
    "frontend-offline": "ERROR: failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:1: "
                        'failed to do request: Head "https://registry-1.docker.io/v2/docker/dockerfile/manifests/1": '
                        "dial tcp: lookup registry-1.docker.io: no such host",
    "base-offline": "ERROR: failed to solve: vllm/vllm-openai:v0.12.0: failed to resolve source metadata for "
                    'docker.io/vllm/vllm-openai:v0.12.0: failed to do request: Head "https://registry-1.docker.io/'
                    'v2/vllm/vllm-openai/manifests/v0.12.0": dial tcp: i/o timeout',
    "frontend-unauthorized": "ERROR: failed to solve: docker/dockerfile:1: failed to authorize: failed to fetch "
                             "oauth token: unexpected status from POST request to https://auth.docker.io/token: "
                             "401 Unauthorized",
    "step-failed": 'ERROR: failed to solve: process "/bin/sh -c uv pip install --system transformers==5.0.0rc0" '
                   "did not complete successfully: exit code: 1",
}}
if mode in failures:
    sys.exit(failures[mode])
if mode != "no-metadata":
    with open(argv[argv.index("--metadata-file") + 1], "w") as f:
        f.write(os.environ["STUB_METADATA"])
"""


@dataclass
class BuildRun:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]


class Builder:
    """Runs a create line the way pulumi-command does (`/bin/sh -c`, from the project root) on a PATH that has
    the stub docker and the few tools buildx_push.sh uses, and nothing else."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for tool in ("bash", "mktemp", "rm", "tee", "grep", "cat"):
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        self.calls = tmp_path / "docker-calls.jsonl"

    def with_docker(self) -> Builder:
        stub = self.bin / "docker"
        stub.write_text(DOCKER_STUB)
        stub.chmod(0o755)
        return self

    def run(self, create: str, mode: str = "ok") -> BuildRun:
        env = {"PATH": str(self.bin), "TMPDIR": str(self.tmp), "STUB_DOCKER_MODE": mode,
               "STUB_DOCKER_CALLS": str(self.calls), "STUB_METADATA": json.dumps(METADATA, indent=2)}
        done = subprocess.run(["/bin/sh", "-c", create], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=30, check=False)
        calls = [json.loads(ln) for ln in self.calls.read_text().splitlines()] if self.calls.exists() else []
        return BuildRun(done.returncode, done.stdout, done.stderr, calls)


def create_line(repository: str = REPO, vllm_version: str = "0.12.0") -> tuple[str, str]:
    """The create line VllmImage declares for the default build, and its tag."""
    build = args(repository=repository, vllm_version=vllm_version)
    docker_args = build_args(build)
    triggers = image.build_triggers(context_hash=content_hash(DOCKER_DIR), repository=repository,
                                    platform=build.platform, docker_args=docker_args)
    tag = image.image_tag(build.vllm_version, triggers)
    line = build_command(repository=repository, tag=tag, platform=build.platform, docker_args=docker_args,
                         context_dir=DOCKER_DIR)
    return line, tag


@pulumi.runtime.test
def test_component_declares_the_create_line_exercised_below(mocks: RecordingMocks) -> Any:
    img = VllmImage("vllm", args())
    line, tag = create_line()
    return img.build.urn.apply(
        lambda _: _assert_equal((commands_by_name(mocks)["vllm-build"]["create"], img.tag), (line, tag)))


def test_create_line_pushes_and_prints_the_metadata_the_ref_is_read_from(tmp_path: Path) -> None:
    line, tag = create_line()
    run = Builder(tmp_path).with_docker().run(line)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(METADATA_MARKER)  # the build log went to stderr
    assert ref_from_build_output(run.stdout, REPO) == f"{REPO}@{DIGEST}"
    assert "pushing layers" in run.stderr and "load build definition" in run.stderr
    version_call, pull_call, build_call = run.calls  # the base is pulled before the build (see below)
    assert version_call == ["buildx", "version"]
    assert pull_call == ["pull", "--platform", "linux/amd64", "vllm/vllm-openai:v0.12.0"]
    assert build_call[:4] == ["buildx", "build", "--push", "--metadata-file"]
    assert build_call[5:] == shlex.split(line)[3:]
    assert f"{REPO}:{tag}" in build_call
    assert not list(tmp_path.glob("tmp.*")), "the metadata scratch directory is removed"


def test_missing_docker_says_what_to_install(tmp_path: Path) -> None:
    run = Builder(tmp_path).run(create_line()[0])
    assert run.returncode != 0 and run.stdout == ""
    assert "docker was not found on PATH. Install the Docker CLI with its buildx plugin" in run.stderr


def test_missing_buildx_says_what_to_install(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="no-buildx")
    assert run.returncode != 0 and run.stdout == ""
    assert "docker buildx is not installed. Install the buildx plugin" in run.stderr
    assert run.calls == [["buildx", "version"]]


@pytest.mark.parametrize(("repository", "mode", "login"), [
    (REPO, "unauthorized", "docker login ghcr.io"),
    ("acme/autoglm-vllm", "denied", "docker login docker.io"),
    ("registry.example.com:5000/team/autoglm", "unauthorized", "docker login registry.example.com:5000"),
    ("localhost/autoglm", "denied", "docker login localhost"),
])
def test_refused_push_says_where_to_log_in(tmp_path: Path, repository: str, mode: str, login: str) -> None:
    run = Builder(tmp_path).with_docker().run(create_line(repository)[0], mode=mode)
    assert run.returncode != 0 and run.stdout == ""
    assert f"the push to {repository} was refused" in run.stderr
    assert run.stderr.rstrip().endswith(login)


def test_unreachable_engine_says_to_start_docker(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="no-daemon")
    assert run.returncode != 0
    assert "no Docker engine is reachable. Start Docker" in run.stderr


def test_other_build_failures_point_at_the_log_and_the_base_tag(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="broken")
    assert run.returncode != 0 and run.stdout == ""
    assert "failed to solve" in run.stderr
    assert "docker buildx build failed (its log is above)" in run.stderr


# ---- the base image is pulled first, and a failure says whether Docker Hub or the target registry failed ----

@pytest.mark.parametrize("vllm_version", ["0.12.0", "0.13.0"])
def test_the_dockerfiles_base_is_pulled_for_the_target_platform_before_the_build(tmp_path: Path,
                                                                                  vllm_version: str) -> None:
    """An image fetched by `docker pull` records the repository its layers came from, so the push can mount
    them (docker.io) instead of uploading ~12 GB; one fetched implicitly by the build's FROM does not
    (containerd image store)."""
    run = Builder(tmp_path).with_docker().run(create_line(vllm_version=vllm_version)[0])
    assert run.returncode == 0, run.stderr
    assert [call[0] for call in run.calls] == ["buildx", "pull", "buildx"]
    assert run.calls[1] == ["pull", "--platform", "linux/amd64", f"vllm/vllm-openai:v{vllm_version}"]
    assert f"pulling the base image vllm/vllm-openai:v{vllm_version} for linux/amd64" in run.stderr
    assert f"Image is up to date for vllm/vllm-openai:v{vllm_version}" in run.stderr  # the pull's log is shown


PULL_FAILED, BUILD_FAILED = "the pull before the build failed: ", "docker buildx build failed (its log is above): "


@pytest.mark.parametrize(("mode", "step", "says"), [
    ("pull-missing-tag", PULL_FAILED, ["Docker Hub (docker.io) has no vllm/vllm-openai:v0.12.0", "vllmVersion"]),
    ("pull-offline", PULL_FAILED, ["the base image vllm/vllm-openai:v0.12.0 could not be fetched",
                                   "Docker Hub (docker.io) did not answer", f"The push to {REPO} was not reached"]),
    ("pull-rate-limited", PULL_FAILED, ["pull rate limit", "docker login docker.io",
                                        f"The push to {REPO} was not the problem"]),
    ("pull-bad-login", PULL_FAILED, ["refused the login saved on this machine", "docker logout docker.io"]),
    ("frontend-offline", BUILD_FAILED, ["# syntax=docker/dockerfile:1", "fetch it on every build",
                                        "frontend docker/dockerfile:1", "Docker Hub (docker.io) did not answer"]),
    ("frontend-unauthorized", BUILD_FAILED, ["Docker Hub (docker.io) refused the login saved on this machine",
                                             "# syntax=docker/dockerfile:1"]),
    ("base-offline", BUILD_FAILED, ["the base image vllm/vllm-openai:v0.12.0 could not be fetched",
                                    "Docker Hub (docker.io) did not answer"]),
    ("broken", BUILD_FAILED, ["Docker Hub (docker.io) has no vllm/vllm-openai:v0.12.0", "vllmVersion"]),
])
def test_a_failure_on_docker_hub_says_so_and_blames_not_the_target_registry(tmp_path: Path, mode: str, step: str,
                                                                            says: list[str]) -> None:
    """The base (pulled first, and resolved again by the build) and the `# syntax=` frontend come from Docker
    Hub; a failure there is neither the vLLM tag's fault nor the target registry's."""
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode=mode)
    assert run.returncode != 0 and run.stdout == ""
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"buildx_push: {step}")
    for phrase in says:
        assert phrase in last
    assert f"the push to {REPO} was refused" not in run.stderr and "docker login ghcr.io" not in run.stderr
    built = [] if step == PULL_FAILED else ["buildx"]  # a failed pull builds nothing
    assert [call[0] for call in run.calls] == ["buildx", "pull", *built]


def test_a_build_step_failure_blames_neither_the_tag_nor_a_registry(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="step-failed")
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert "its first ERROR line names the cause" in last
    assert "vllmVersion" not in last and "was refused" not in last and "did not answer" not in last


def test_without_a_local_engine_the_pull_is_left_to_the_build(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="no-daemon")
    assert [call[0] for call in run.calls] == ["buildx", "pull", "buildx"]
    assert "no local Docker engine to pull vllm/vllm-openai:v0.12.0 into" in run.stderr


def test_build_without_metadata_fails(tmp_path: Path) -> None:
    run = Builder(tmp_path).with_docker().run(create_line()[0], mode="no-metadata")
    assert run.returncode != 0 and run.stdout == ""
    assert "wrote no metadata file" in run.stderr


# ---- reading the ref -----------------------------------------------------------------------------------------

def test_ref_read_after_whatever_came_before_the_marker() -> None:
    assert ref_from_build_output("noise\n" + build_stdout(), REPO) == f"{REPO}@{DIGEST}"


@pytest.mark.parametrize(("stdout", "message"), [
    ("", "printed no buildx metadata"),
    (None, "printed no buildx metadata"),
    (f"{METADATA_MARKER}\n{{not json", "not JSON"),
    (build_stdout({k: v for k, v in METADATA.items() if k != "containerimage.digest"}), "no containerimage.digest"),
    (build_stdout({**METADATA, "containerimage.digest": "sha256:abc"}), "no containerimage.digest"),
    (f"{METADATA_MARKER}\n[]", "no containerimage.digest"),
])
def test_unreadable_metadata_is_an_error_saying_so(stdout: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ref_from_build_output(stdout, REPO)


# ---- launch line helpers -------------------------------------------------------------------------------------

def test_launch_args_are_open_autoglms_line_for_a_vllm_serve_entrypoint() -> None:
    line = launch_args(model=MODEL, served_model_name="autoglm-phone-9b", max_model_len=25480, gpu_count=1)
    assert line == (
        "zai-org/AutoGLM-Phone-9B --served-model-name autoglm-phone-9b --max-model-len 25480 "
        "--mm-encoder-tp-mode data --mm_processor_cache_type shm --mm_processor_kwargs '{\"max_pixels\":5000000}' "
        "--limit-mm-per-prompt '{\"image\":10}' --chat-template-content-format string --port 8000")


def test_launch_args_for_several_gpus_use_tensor_parallelism_and_never_a_key() -> None:
    argv = shlex.split(launch_args(model=MODEL, served_model_name="x", max_model_len=8192, gpu_count=4))
    assert argv[argv.index("--tensor-parallel-size") + 1] == "4"
    assert "--api-key" not in argv and "--model" not in argv
    assert argv[0] == MODEL


def test_launch_env_names_what_the_start_script_reads_and_no_secret() -> None:
    env = launch_env(model=MODEL, served_model_name="autoglm-phone-9b", max_model_len=25480, gpu_count=2,
                     volume_mount_path="/workspace")
    assert env == {"MODEL": MODEL, "SERVED_MODEL_NAME": "autoglm-phone-9b", "MAX_MODEL_LEN": "25480",
                   "TENSOR_PARALLEL_SIZE": "2", "VOLUME_PATH": "/workspace"}
    no_volume = launch_env(model=MODEL, served_model_name="a", max_model_len=1, gpu_count=1, volume_mount_path=None)
    assert "VOLUME_PATH" not in no_volume


def test_cache_env_lays_the_caches_out_under_the_volume() -> None:
    assert cache_env("/runpod-volume/") == {"HF_HOME": "/runpod-volume/hf", "VLLM_CACHE_ROOT": "/runpod-volume/vllm"}


@pytest.mark.parametrize(("max_model_len", "gpu_count", "message"), [(0, 1, "max_model_len"), (100, 0, "gpu_count")])
def test_launch_helpers_reject_impossible_numbers(max_model_len: int, gpu_count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        launch_args(model=MODEL, served_model_name="x", max_model_len=max_model_len, gpu_count=gpu_count)
    with pytest.raises(ValueError, match=message):
        launch_env(model=MODEL, served_model_name="x", max_model_len=max_model_len, gpu_count=gpu_count,
                   volume_mount_path=None)
