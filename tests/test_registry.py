"""Reading an image's config from its registry (components/registry), against a real `docker-registry` on
loopback with real token auth (tests/registry.py), a fault-injecting front for 429/5xx and tampering, and the
Docker config and credential-helper contracts for the user's credentials."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.registry import (
    BadImage,
    NotFound,
    PullRefused,
    RateLimited,
    RegistryClient,
    RegistryError,
    Unauthorized,
    cuda_requirement,
    docker_credentials,
    inspect_image,
    parse_reference,
    read_image_config,
    same_image,
)
from tests.fakes.registry_front import RegistryFront, registry_front
from tests.registry import CUDA_130_ENV, DOCKER, OCI, LocalRegistry, cuda_image

PASSWORD = "ci-secret-password-1234"


def docker_config(tmp_path: Path, auths: dict[str, Any] | None = None, **extra: Any) -> dict[str, str]:
    """An environment whose DOCKER_CONFIG holds `auths` (and e.g. credHelpers)."""
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths or {}, **extra}))
    return {"DOCKER_CONFIG": str(tmp_path), "PATH": os.environ.get("PATH", "")}


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def front(registry: LocalRegistry) -> Iterator[RegistryFront]:
    with registry_front(registry.host) as running:
        yield running
    registry.tokens.faults.clear()


# ---- references and the CUDA declaration (pure) ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "registry", "repository", "reference", "api"), [
    ("vllm/vllm-openai:v0.12.0", "docker.io", "vllm/vllm-openai", "v0.12.0", "https://registry-1.docker.io"),
    ("ubuntu", "docker.io", "library/ubuntu", "latest", "https://registry-1.docker.io"),
    ("docker.io/library/ubuntu:24.04", "docker.io", "library/ubuntu", "24.04", "https://registry-1.docker.io"),
    ("ghcr.io/acme/autoglm-vllm@sha256:" + "a" * 64, "ghcr.io", "acme/autoglm-vllm", "sha256:" + "a" * 64,
     "https://ghcr.io"),
    ("127.0.0.1:5000/acme/x:v1@sha256:" + "b" * 64, "127.0.0.1:5000", "acme/x", "sha256:" + "b" * 64,
     "http://127.0.0.1:5000"),
    ("localhost:5000/x", "localhost:5000", "x", "latest", "http://localhost:5000"),
])
def test_references_point_where_docker_would_pull_them(text: str, registry: str, repository: str, reference: str,
                                                       api: str) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.reference, ref.api_url) == (registry, repository, reference, api)


D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(("a", "b", "same"), [
    ("vllm/vllm-openai:v0.12.0", "docker.io/vllm/vllm-openai:v0.12.0", True),
    ("vllm/vllm-openai:v0.12.0", "index.docker.io/vllm/vllm-openai:v0.12.0", True),
    ("ubuntu", "docker.io/library/ubuntu:latest", True),
    (f"vllm/vllm-openai:v0.12.0@{D1}", f"docker.io/vllm/vllm-openai@{D1}", True),  # a pull by digest ignores the tag
    (f"ghcr.io/acme/x@{D1}", f"ghcr.io/acme/x@{D2}", False),
    (f"vllm/vllm-openai@{D1}", "vllm/vllm-openai:v0.12.0", False),  # a tag may have moved off the digest
    ("vllm/vllm-openai:v0.12.0", "vllm/vllm-openai:v0.11.0", False),
    ("vllm/vllm-openai:v0.12.0", "ghcr.io/vllm/vllm-openai:v0.12.0", False),
    ("Not A Reference", "not a reference", False),
])
def test_same_image_is_docker_hubs_normalisation_and_the_digest(a: str, b: str, same: bool) -> None:
    assert same_image(a, b) is same and same_image(b, a) is same


@pytest.mark.parametrize(("env", "floor"), [
    ({"NVIDIA_REQUIRE_CUDA": "cuda>=12.9 brand=tesla,driver>=535,driver<536", "CUDA_VERSION": "12.9.1"}, "12.9"),
    ({"NVIDIA_REQUIRE_CUDA": "brand=tesla,driver>=535,driver<536 cuda>=13.0", "CUDA_VERSION": "13.0.2"}, "13.0"),
    ({"NVIDIA_REQUIRE_CUDA": "cuda>=13", "CUDA_VERSION": "13.0.2"}, "13.0"),
    ({"CUDA_VERSION": "12.4.1"}, "12.4"),  # images older than NVIDIA_REQUIRE_CUDA: the toolkit is the gate
])
def test_the_floor_is_what_nvidia_container_cli_enforces(env: dict[str, str], floor: str) -> None:
    assert cuda_requirement(env, "img").floor == floor


def test_an_image_that_declares_no_cuda_is_refused() -> None:
    with pytest.raises(BadImage, match="declares no CUDA requirement"):
        cuda_requirement({"PATH": "/usr/bin"}, "img")


# ---- public images, every media type ---------------------------------------------------------------------------


@pytest.mark.parametrize(("docker", "index", "attestation"), [(False, True, True), (True, True, False),
                                                              (False, False, False), (True, False, False)],
                         ids=["oci-index+attestation", "docker-manifest-list", "oci-manifest", "docker-manifest"])
def test_a_public_image_is_read_anonymously_through_the_token_flow(registry: LocalRegistry, docker: bool,
                                                                   index: bool, attestation: bool) -> None:
    repository = f"public/{'docker' if docker else 'oci'}-{'index' if index else 'single'}"
    registry.tokens.public.add(repository)
    image = cuda_image(docker=docker, index=index, attestation=attestation, name=repository)
    registry.push(repository, image, tag="v1")
    types = DOCKER if docker else OCI
    for reference in (f"{registry.host}/{repository}:v1", f"{registry.host}/{repository}@{image.digest}"):
        facts = inspect_image(reference)
        assert facts.anonymous_pull and facts.cuda.floor == "12.9" and facts.cuda.cuda_version == "12.9.1"
        assert facts.cuda.require_cuda and facts.cuda.require_cuda.startswith("cuda>=12.9 brand=")
        assert facts.config.manifest_type == types["manifest"]
        assert facts.config.index_type == (types["index"] if index else None)
        amd64 = image.manifests[0] if index else image.top
        assert facts.config.manifest_digest == amd64.digest
    scopes = {(r.scope, r.user, r.granted) for r in registry.tokens.requests}
    assert (f"repository:{repository}:pull", None, ("pull",)) in scopes


def test_an_image_without_linux_amd64_is_refused(registry: LocalRegistry) -> None:
    registry.tokens.public.add("public/arm-only")
    registry.push("public/arm-only", cuda_image(platforms=("linux/arm64",), name="arm"))
    with pytest.raises(BadImage, match=r"no linux/amd64 image \(its index lists linux/arm64\)"):
        inspect_image(f"{registry.host}/public/arm-only")


def test_a_missing_tag_is_not_found(registry: LocalRegistry) -> None:
    registry.tokens.public.add("public/missing")
    registry.push("public/missing", cuda_image(name="missing"))
    with pytest.raises(NotFound, match="404 MANIFEST_UNKNOWN") as e:
        inspect_image(f"{registry.host}/public/missing:nope")
    assert e.value.status == 404


def test_a_missing_config_blob_fails_clearly(registry: LocalRegistry) -> None:
    registry.tokens.public.add("public/no-config")
    image = cuda_image(index=False, name="no-config")
    registry.push("public/no-config", image)
    registry.delete_blob("public/no-config", image.blobs[0].digest)
    with pytest.raises(NotFound, match=rf"blob {image.blobs[0].digest} of .*public/no-config"):
        inspect_image(f"{registry.host}/public/no-config")


@pytest.mark.parametrize(("config", "message"), [(b"not json at all", "is not a JSON object"),
                                                 (b'{"config": {"Env": "PATH=/bin"}}', "Env is not a list"),
                                                 (b'{"config": {"Env": ["PATH=/bin"]}}', "declares no CUDA")])
def test_an_unreadable_config_fails_clearly(registry: LocalRegistry, config: bytes, message: str) -> None:
    repository = f"public/bad-config-{len(config)}"
    registry.tokens.public.add(repository)
    registry.push(repository, cuda_image(index=False, config_data=config, name=repository))
    with pytest.raises(BadImage, match=message):
        inspect_image(f"{registry.host}/{repository}")


# ---- private images: anonymous refusal, the user's credentials --------------------------------------------------


@pytest.fixture
def private(registry: LocalRegistry) -> str:
    digest = registry.push("acme/private-vllm", cuda_image(CUDA_130_ENV, name="private"))
    return f"{registry.host}/acme/private-vllm@{digest}"


def test_a_private_image_without_registry_auth_id_is_refused_with_the_fix(private: str) -> None:
    with pytest.raises(PullRefused) as e:
        inspect_image(private)
    message = str(e.value)
    assert "answered 401 UNAUTHORIZED" in message and "(anonymously)" in message
    assert "autoglm-runpod:registryAuthId is not set" in message and "make the image public" in message
    assert "Container Registry Auth" in message and "Nothing was created" in message


def test_the_client_reports_the_anonymous_refusal_as_unauthorized(registry: LocalRegistry, private: str) -> None:
    with RegistryClient(parse_reference(private)) as client, pytest.raises(Unauthorized) as e:
        read_image_config(client)
    assert e.value.status == 401


def test_with_registry_auth_id_the_users_docker_credentials_read_it(registry: LocalRegistry, private: str,
                                                                    tmp_path: Path) -> None:
    env = docker_config(tmp_path, {registry.host: {"auth": basic("ci-user", PASSWORD)}})
    facts = inspect_image(private, registry_auth_id="cred_01", environ=env)
    assert facts.cuda.floor == "13.0" and not facts.anonymous_pull
    assert registry.tokens.requests[-1].user == "ci-user" and registry.tokens.requests[-1].granted == ("pull",)


def test_a_credential_helper_is_asked_as_docker_asks_it(registry: LocalRegistry, private: str,
                                                        tmp_path: Path) -> None:
    helper = tmp_path / "bin" / "docker-credential-testhelper"
    helper.parent.mkdir()
    helper.write_text(f"#!{sys.executable}\nimport json, sys\nserver = sys.stdin.read().strip()\n"
                      f"if sys.argv[1:] != ['get'] or server != {registry.host!r}:\n"
                      "    sys.exit('credentials not found in native keychain')\n"
                      f"print(json.dumps({{'ServerURL': server, 'Username': 'ci-user', 'Secret': {PASSWORD!r}}}))\n")
    helper.chmod(0o755)
    env = docker_config(tmp_path, {registry.host: {}}, credHelpers={registry.host: "testhelper"})
    env["PATH"] = f"{helper.parent}:{env['PATH']}"
    assert inspect_image(private, registry_auth_id="cred_01", environ=env).cuda.floor == "13.0"


def test_registry_auth_id_without_local_credentials_says_to_docker_login(private: str, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"holds no credentials for 127\.0\.0\.1:\d+ .*Run `docker login"):
        inspect_image(private, registry_auth_id="cred_01", environ=docker_config(tmp_path))


def test_wrong_credentials_are_refused_without_showing_them(registry: LocalRegistry, private: str,
                                                            tmp_path: Path) -> None:
    env = docker_config(tmp_path, {f"http://{registry.host}/v1/": {"username": "ci-user",
                                                                   "password": "wrong-password-5678"}})
    with pytest.raises(Unauthorized) as e:
        inspect_image(private, registry_auth_id="cred_01", environ=env)
    assert "401" in str(e.value) and "wrong-password-5678" not in str(e.value)


# ---- the user's Docker config ----------------------------------------------------------------------------------


def test_docker_hub_credentials_are_found_under_dockers_own_key(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"https://index.docker.io/v1/": {"auth": basic("me", "hub-token-0000")},
                                   "ghcr.io": {"username": "me", "password": "ghcr-token-1111"}})
    hub = docker_credentials("docker.io", env)
    assert hub is not None and (hub.username, hub.secret) == ("me", "hub-token-0000")
    assert "hub-token-0000" not in repr(hub)
    ghcr = docker_credentials("ghcr.io", env)
    assert ghcr is not None and ghcr.secret == "ghcr-token-1111"
    assert docker_credentials("quay.io", env) is None
    assert docker_credentials("ghcr.io", {"DOCKER_CONFIG": str(tmp_path / "absent")}) is None


def test_identity_tokens_are_refused_with_the_fix(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"https://index.docker.io/v1/": {"identitytoken": "opaque"}})
    with pytest.raises(RegistryError, match=r"identity token.*docker login docker\.io"):
        docker_credentials("docker.io", env)


def test_a_missing_helper_falls_back_to_the_inline_entry(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"ghcr.io": {"auth": basic("me", "inline-secret")}}, credsStore="nonexistent")
    found = docker_credentials("ghcr.io", env)
    assert found is not None and found.secret == "inline-secret"


# ---- faults in front of the registry ------------------------------------------------------------------------


def public_image(registry: LocalRegistry, front: RegistryFront, name: str) -> str:
    registry.tokens.public.add(f"public/{name}")
    digest = registry.push(f"public/{name}", cuda_image(name=name))
    return f"{front.host}/public/{name}@{digest}"


def test_a_lasting_rate_limit_is_reported_as_such(registry: LocalRegistry, front: RegistryFront) -> None:
    ref = public_image(registry, front, "limited")
    front.inject(r"/v2/public/limited/manifests/.*", 429, times=10, retry_after=0)
    with pytest.raises(RateLimited, match="429 TOOMANYREQUESTS") as e:
        inspect_image(ref)
    assert e.value.status == 429 and e.value.retry_after_s == 0
    assert len([r for r in front.requests if r[2] == 429]) == 4, "three retries, then the report"


@pytest.mark.parametrize("status", [429, 503])
def test_a_passing_rate_limit_or_outage_is_retried(registry: LocalRegistry, front: RegistryFront, status: int) -> None:
    ref = public_image(registry, front, f"flaky-{status}")
    front.inject(rf"/v2/public/flaky-{status}/manifests/.*", status, times=1, retry_after=0)
    assert inspect_image(ref).cuda.floor == "12.9"


def test_a_long_retry_after_is_reported_not_slept_through(registry: LocalRegistry, front: RegistryFront) -> None:
    ref = public_image(registry, front, "long-wait")
    front.inject(r"/v2/public/long-wait/manifests/.*", 429, times=1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimited, match="retry after 3600 s") as e:
        inspect_image(ref)
    assert time.monotonic() - started < 5 and e.value.retry_after_s == 3600


def test_a_rate_limited_token_service_is_reported(registry: LocalRegistry, front: RegistryFront) -> None:
    ref = public_image(registry, front, "token-limited")
    registry.tokens.inject(429, times=4, retry_after=0)
    with pytest.raises(RateLimited, match="token"):
        inspect_image(ref)


def test_content_that_does_not_match_its_digest_is_refused(registry: LocalRegistry, front: RegistryFront) -> None:
    ref = public_image(registry, front, "tampered")
    front.inject(r"/v2/public/tampered/manifests/sha256:.*", None, times=1)
    with pytest.raises(BadImage, match="does not match its digest"):
        inspect_image(ref)
