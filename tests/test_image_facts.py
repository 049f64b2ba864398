"""The `ImageFacts` dynamic resource through the SDK's real provider host, against the loopback registry: what
the image declares becomes the pod's floor, a disagreement with the table is logged, and an image RunPod could
not pull or whose config cannot be read fails the step (before any pod, which depends on its output)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime.proto.provider_pb2 import DiffResponse

from components.providers.image_facts import FACTS_TYPE, ImageFactsProvider
from tests.provider_host import Host, HostError, provider_host
from tests.registry import CUDA_130_ENV, LocalRegistry, cuda_image


@pytest.fixture
def host(registry: LocalRegistry, tmp_path: Path) -> Iterator[Host]:
    auth = base64.b64encode(b"ci-user:ci-secret-password-1234").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    with provider_host(ImageFactsProvider(), FACTS_TYPE, env={"DOCKER_CONFIG": str(tmp_path)}) as running:
        yield running


def pushed(registry: LocalRegistry, repository: str, env: tuple[str, ...] | None = None, public: bool = True) -> str:
    if public:
        registry.tokens.public.add(repository)
    image = cuda_image(env, name=repository) if env else cuda_image(name=repository)
    return f"{registry.host}/{repository}@{registry.push(repository, image)}"


def test_inputs_are_checked_naming_the_setting(host: Host) -> None:
    _, failures = host.check({"image": "Not An Image", "platform": "amd64", "table_cuda_floor": "12",
                              "registry_auth_id": ""})
    reasons = dict(failures)
    assert set(reasons) == {"image", "platform", "table_cuda_floor", "registry_auth_id"}
    assert "must be an image reference" in reasons["image"]
    assert "autoglm-runpod:registryAuthId" in reasons["registry_auth_id"]


def test_the_image_floor_is_the_output_and_agreement_is_logged(registry: LocalRegistry, host: Host) -> None:
    image = pushed(registry, "facts/agrees")
    inputs, failures = host.check({"image": image, "vllm_version": "0.12.0", "table_cuda_floor": "12.9"})
    assert failures == [] and inputs["platform"] == "linux/amd64"
    assert inputs["cuda_floor"] == "12.9", "what a preview shows until up reads the image"
    _, outs = host.create(inputs)
    assert (outs["cuda_floor"], outs["min_driver"], outs["cuda_version"]) == ("12.9", "575.51.03", "12.9.1")
    assert outs["require_cuda"].startswith("cuda>=12.9") and outs["anonymous_pull"] is True
    assert outs["manifest_digest"].startswith("sha256:") and outs["image"] == image
    assert host.logged("declares NVIDIA_REQUIRE_CUDA=cuda>=12.9")


def test_when_the_image_disagrees_with_the_table_the_image_wins_and_says_so(registry: LocalRegistry,
                                                                            host: Host) -> None:
    image = pushed(registry, "facts/cu13", CUDA_130_ENV)
    id_, outs = host.create({"image": image, "vllm_version": "0.12.0", "table_cuda_floor": "12.9",
                             "platform": "linux/amd64"})
    assert outs["cuda_floor"] == "13.0" and outs["min_driver"] == "580.65.06"
    assert host.logged("the compatibility table says CUDA 12.9 for vLLM 0.12.0: the image wins")
    same = host.diff(id_, outs, {"image": image, "vllm_version": "0.12.0", "table_cuda_floor": "12.9"})
    assert same.changes == DiffResponse.DIFF_NONE, "an unchanged image is not read again"
    moved = host.diff(id_, outs, {"image": pushed(registry, "facts/agrees"), "vllm_version": "0.12.0",
                                  "table_cuda_floor": "12.9"})
    assert moved.changes == DiffResponse.DIFF_SOME and list(moved.replaces) == []


def test_a_private_image_without_registry_auth_id_fails_before_the_pod(registry: LocalRegistry, host: Host) -> None:
    image = pushed(registry, "facts/private", public=False)
    with pytest.raises(HostError) as e:
        host.create({"image": image, "platform": "linux/amd64"})
    message = str(e.value)
    assert "before anything runs it" in message and "autoglm-runpod:registryAuthId is not set" in message
    assert "ci-secret-password-1234" not in e.value.details


def test_with_registry_auth_id_the_users_credentials_read_it(registry: LocalRegistry, host: Host) -> None:
    image = pushed(registry, "facts/private-with-auth", CUDA_130_ENV, public=False)
    _, outs = host.create({"image": image, "platform": "linux/amd64", "registry_auth_id": "cred_01"})
    assert outs["cuda_floor"] == "13.0" and outs["anonymous_pull"] is False
    assert host.logged("RunPod pulls it with registry credential cred_01")


def test_an_unreadable_config_fails_the_step(registry: LocalRegistry, host: Host) -> None:
    registry.tokens.public.add("facts/no-cuda")
    digest = registry.push("facts/no-cuda", cuda_image(("PATH=/bin",), index=False, name="no-cuda"))
    props: dict[str, Any] = {"image": f"{registry.host}/facts/no-cuda@{digest}", "platform": "linux/amd64"}
    with pytest.raises(HostError, match="declares no CUDA requirement"):
        host.create(props)


def test_a_missing_tag_says_what_to_check(registry: LocalRegistry, host: Host) -> None:
    registry.tokens.public.add("facts/missing")
    registry.push("facts/missing", cuda_image(name="missing"))
    with pytest.raises(HostError) as e:
        host.create({"image": f"{registry.host}/facts/missing:nope", "platform": "linux/amd64"})
    assert "404 MANIFEST_UNKNOWN" in str(e.value)
    assert ("Check that the image was pushed with that tag or digest; a registry that hides private images behind "
            "404 needs autoglm-runpod:registryAuthId. Nothing was created.") in str(e.value)


def test_missing_credentials_name_the_docker_config_actually_read(registry: LocalRegistry, tmp_path: Path) -> None:
    empty = tmp_path / "no-credentials"
    empty.mkdir()
    image = pushed(registry, "facts/private-no-login", public=False)
    with provider_host(ImageFactsProvider(), FACTS_TYPE, env={"DOCKER_CONFIG": str(empty)}) as host, \
            pytest.raises(HostError) as e:
        host.create({"image": image, "platform": "linux/amd64", "registry_auth_id": "cred_01"})
    assert f"{empty / 'config.json'} holds no credentials for {registry.host}" in str(e.value)
