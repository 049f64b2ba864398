"""Settings: every key's default, a good value, and bad values whose message names the full key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from components import compat
from components.image_ref import validate_image_reference, validate_image_repository
from components.settings import (
    DEFAULTS,
    KEYS,
    SECRET_KEYS,
    PlanError,
    Settings,
    SettingsError,
    parse_settings,
    preflight,
)

BASE = {"gpuTypes": '["NVIDIA L40S"]', "imageRepository": "ghcr.io/acme/autoglm-vllm"}


def parse(stack: str = "dev", **overrides: str | None) -> Settings:
    raw: dict[str, str | None] = {**BASE, **overrides}
    return parse_settings(raw, stack)


def test_defaults_applied() -> None:
    s = parse()
    assert s.gpu_types == ("NVIDIA L40S",)
    assert s.gpu_count == 1
    assert s.cloud == "SECURE"
    assert s.vllm_version == "0.12.0"
    assert s.model == "zai-org/AutoGLM-Phone-9B"
    assert s.served_model_name == "autoglm-phone-9b"
    assert s.max_model_len == 25480
    assert s.container_disk_gb == compat.default_container_disk_gb(compat.AUTOGLM_PHONE_9B, False) == 70
    assert s.network_volume_id is None and s.image is None and s.registry_auth_id is None
    assert s.health_timeout_minutes == 20
    assert s.max_cost_per_hour is None and s.promote_from is None
    assert s.runpod_api_url == "https://api.runpod.io"
    assert s.public_endpoint is False and s.running is True
    assert s.image_source == "build"
    assert s.cuda_floor.cuda == "12.9" and s.base_image == "vllm/vllm-openai:v0.12.0"


def test_settings_are_immutable() -> None:
    s = parse()
    with pytest.raises(AttributeError):
        s.gpu_count = 2  # type: ignore[misc]


GOOD: list[tuple[str, str, str, Any]] = [
    ("gpuTypes", '["L40S", "H100 PCIe"]', "gpu_types", ("NVIDIA L40S", "NVIDIA H100 PCIe")),
    ("gpuTypes", "NVIDIA L40S, a6000", "gpu_types", ("NVIDIA L40S", "NVIDIA RTX A6000")),
    ("gpuTypes", '["l40s", "NVIDIA L40S"]', "gpu_types", ("NVIDIA L40S",)),
    ("gpuCount", "2", "gpu_count", 2),
    ("cloud", "community", "cloud", "COMMUNITY"),
    ("vllmVersion", "v0.13.0", "vllm_version", "0.13.0"),
    ("vllmVersion", "0.21.0-cu129", "vllm_version", "0.21.0-cu129"),
    ("model", "zai-org/AutoGLM-Phone-9B-Multilingual", "model", "zai-org/AutoGLM-Phone-9B-Multilingual"),
    ("servedModelName", "autoglm-phone-9b-multilingual", "served_model_name", "autoglm-phone-9b-multilingual"),
    ("maxModelLen", "16384", "max_model_len", 16384),
    ("containerDiskGb", "120", "container_disk_gb", 120),
    ("networkVolumeId", "abc123xyz", "network_volume_id", "abc123xyz"),
    ("registryAuthId", "cred_01", "registry_auth_id", "cred_01"),
    ("healthTimeoutMinutes", "45", "health_timeout_minutes", 45),
    ("maxCostPerHour", "1.50", "max_cost_per_hour", 1.5),
    ("runpodApiUrl", "http://127.0.0.1:8080/", "runpod_api_url", "http://127.0.0.1:8080"),
    ("publicEndpoint", "true", "public_endpoint", True),
    ("running", "false", "running", False),
]


@pytest.mark.parametrize(("key", "raw", "attr", "expected"), GOOD, ids=[f"{g[0]}={g[1]}" for g in GOOD])
def test_good_values(key: str, raw: str, attr: str, expected: Any) -> None:
    assert getattr(parse(**{key: raw}), attr) == expected


BAD: list[tuple[str, str, str]] = [
    ("gpuTypes", "[]", "non-empty list"),
    ("gpuTypes", '["L40Z"]', "'NVIDIA L40S'"),
    ("gpuTypes", '[""]', "non-empty list"),
    ("gpuTypes", '{"a": 1}', "non-empty list"),
    ("gpuCount", "0", "from 1 to 8"),
    ("gpuCount", "two", "whole number"),
    ("gpuCount", "9", "from 1 to 8"),
    ("cloud", "ALL", "SECURE or COMMUNITY"),
    ("vllmVersion", "latest", "0.12.0"),
    ("model", "AutoGLM-Phone-9B", "OWNER/NAME"),
    ("model", "", "empty"),
    ("servedModelName", "auto glm", "without spaces"),
    ("maxModelLen", "-1", "from 256"),
    ("maxModelLen", "25k", "whole number"),
    ("containerDiskGb", "5", "from 10"),
    ("networkVolumeId", "a b", "network volume id"),
    ("imageRepository", "ghcr.io/acme/autoglm:v1", "without a tag"),
    ("imageRepository", "GHCR.io/Acme/AutoGLM", "lowercase"),
    ("imageRepository", "autoglm", "namespace"),
    ("registryAuthId", "!", "credential id"),
    ("healthTimeoutMinutes", "0", "from 1 to 180"),
    ("maxCostPerHour", "-2", "above 0"),
    ("maxCostPerHour", "cheap", "above 0"),
    ("promoteFrom", "dev stack", "stack name"),
    ("runpodApiUrl", "api.runpod.io", "http(s) base URL"),
    ("runpodApiUrl", "ftp://api.runpod.io", "http(s) base URL"),
    ("runpodApiUrl", "http://api.runpod.io", "use https"),
    ("publicEndpoint", "yes", "true or false"),
    ("running", "1", "true or false"),
]


@pytest.mark.parametrize(("key", "raw", "allowed"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_bad_values_name_key_value_and_what_is_allowed(key: str, raw: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as e:
        parse(**{key: raw})
    message = str(e.value)
    assert e.value.key == f"autoglm-runpod:{key}"
    assert message.startswith(f"autoglm-runpod:{key} = {raw!r} is not valid")
    assert allowed in message


def test_gpu_types_required_with_the_command_to_set_it() -> None:
    with pytest.raises(SettingsError, match=r"autoglm-runpod:gpuTypes = \(not set\).*pulumi config set --path"):
        parse(gpuTypes=None)


def test_unknown_key_is_refused_with_the_closest_one() -> None:
    with pytest.raises(SettingsError, match=r"autoglm-runpod:gpuType = .*Did you mean autoglm-runpod:gpuTypes"):
        parse(gpuType="L40S")


def test_a_mistyped_secret_key_does_not_show_its_value() -> None:
    with pytest.raises(SettingsError) as e:
        parse(vllmApikey="supersecretvalue12345")
    assert "supersecretvalue12345" not in str(e.value)
    assert "autoglm-runpod:vllmApikey = (value not shown)" in str(e.value)
    assert "Did you mean autoglm-runpod:vllmApiKey" in str(e.value)


def test_load_settings_never_prints_a_value_marked_secret() -> None:
    from components.settings import load_settings
    from tests.conftest import configure_mocks

    configure_mocks("dev", {"gpuTypes": ["NVIDIA L40S"], "imageRepository": "ghcr.io/acme/autoglm-vllm",
                            "hf_token": "hf_abcdefSECRET"}, secret_keys=("hf_token",))
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert "hf_abcdefSECRET" not in str(e.value) and "autoglm-runpod:hf_token" in str(e.value)


def test_public_endpoint_and_a_key_conflict() -> None:
    with pytest.raises(SettingsError, match=r"autoglm-runpod:publicEndpoint = 'true'.*conflicts with .*vllmApiKey"):
        parse(publicEndpoint="true", vllmApiKey="a-key-of-sixteen-chars")


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_values_are_never_shown(key: str) -> None:
    secret = " not-a-real-token-ThisIsASecretValue "
    with pytest.raises(SettingsError) as e:
        parse(**{key: secret})
    assert "ThisIsASecret" not in str(e.value)
    assert f"autoglm-runpod:{key} = (secret)" in str(e.value)


def test_short_vllm_api_key_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError, match="at least 16 characters") as e:
        parse(vllmApiKey="short-key")
    assert "short-key" not in str(e.value)


# Keys nginx's configuration could not hold safely; each is long enough, so only its characters are at fault.
UNSAFE_KEYS = ['quote"0123456789abcdef', "single'0123456789abcdef", "dollar$0123456789abcdef",
               "dollar${var}0123456789ab", "space 0123456789abcdef", "tab\t0123456789abcdef",
               "newline\n0123456789abcdef", "back\\slash0123456789abcdef", "brace{0123456789abcdef}",
               "semicolon;0123456789abcdef", "hash#0123456789abcdef", "equals=in0123456789abcdef",
               "umlaut-ü-0123456789abcdef"]
SAFE_KEYS = ["Kq3ZtV8wN1bXr6YpL0mC4sDf7GhJ2aEu9iOoPkQlRnSvTxWy",  # 48 alphanumerics, as the stack generates
             "sk-test-very-secret-4242", "a.b_c~d+e/f-0123456789", "base64ish0123456789+/==", "01234567890123456"]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_a_key_nginx_cannot_hold_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(SettingsError, match="nginx") as e:
        parse(vllmApiKey=key)
    assert str(e.value).startswith("autoglm-runpod:vllmApiKey = (secret) is not valid")
    assert "0123456789abcdef" not in str(e.value)


@pytest.mark.parametrize("key", SAFE_KEYS)
def test_bearer_token_keys_are_accepted(key: str) -> None:
    parse(vllmApiKey=key)


def test_image_source_exactly_one() -> None:
    with pytest.raises(SettingsError, match=r"imageRepository = \(not set\).*image to a ready image"):
        parse(imageRepository=None)
    with pytest.raises(SettingsError, match=r"autoglm-runpod:image = .*conflicts with autoglm-runpod:imageRepository"):
        parse(image="vllm/vllm-openai:v0.12.0")
    assert parse(imageRepository=None, image="vllm/vllm-openai:v0.12.0").image_source == "given"
    assert parse(imageRepository=None, promoteFrom="dev", stack="prod").image_source == "promoted"


def test_a_stack_cannot_promote_from_itself() -> None:
    with pytest.raises(SettingsError, match="cannot promote from itself"):
        parse(imageRepository=None, promoteFrom="prod", stack="prod")


@pytest.mark.parametrize("promote_from", ["dev", "autoglm-runpod/dev", "organization/autoglm-runpod/dev"])
def test_dev_promoting_from_itself_is_told_to_build_not_to_name_dev(promote_from: str) -> None:
    with pytest.raises(SettingsError) as e:
        parse(imageRepository=None, promoteFrom=promote_from, stack="dev")
    message = str(e.value)
    assert "cannot promote from itself (dev)" in message and "e.g. dev" not in message
    assert "unset promoteFrom (`pulumi config rm promoteFrom`) and set imageRepository" in message


def test_prod_promoting_from_itself_is_offered_dev() -> None:
    with pytest.raises(SettingsError, match=r"itself \(prod\)\. Name another stack, .*, e\.g\. dev;"):
        parse(imageRepository=None, promoteFrom="autoglm-runpod/prod", stack="prod")
    assert parse(imageRepository=None, promoteFrom="other-project/prod", stack="prod").promote_from




def test_network_volume_needs_secure_cloud_and_shrinks_the_default_disk() -> None:
    with pytest.raises(SettingsError, match=r"autoglm-runpod:cloud = 'COMMUNITY'.*Secure Cloud"):
        parse(cloud="COMMUNITY", networkVolumeId="vol12345")
    assert parse(networkVolumeId="vol12345").container_disk_gb == 40


def test_every_key_has_a_rule_or_is_documented() -> None:
    # Every default names a real key; every key parses when absent (except the required gpuTypes).
    assert set(DEFAULTS) <= set(KEYS)
    raw = {k: None for k in KEYS} | BASE
    parse_settings(raw, "dev")


@pytest.mark.parametrize(("ref", "ok"), [
    ("vllm/vllm-openai:v0.12.0", True),
    ("ghcr.io/acme/autoglm-vllm@sha256:" + "a" * 64, True),
    ("localhost:5000/acme/x:tag@sha256:" + "0" * 64, True),
    ("ghcr.io/acme/x@sha256:abc", False),
    ("ghcr.io/acme/x:bad tag", False),
    ("Upper/Case:tag", False),
])
def test_image_reference_rule(ref: str, ok: bool) -> None:
    assert (validate_image_reference(ref) is None) is ok


@pytest.mark.parametrize(("repo", "ok"), [
    ("ghcr.io/acme/autoglm-vllm", True),
    ("docker.io/acme/autoglm_vllm", True),
    ("registry.example.com:5000/team/x", True),
    ("acme/autoglm", True),
    ("ghcr.io/acme/x:tag", False),
    ("ghcr.io/acme/x@sha256:" + "a" * 64, False),
    ("ghcr.io/Acme/x", False),
])
def test_image_repository_rule(repo: str, ok: bool) -> None:
    assert (validate_image_repository(repo) is None) is ok


@pytest.mark.parametrize(("repo", "named", "offered"), [
    ("ghcr.io/OWNER/autoglm-vllm", "'OWNER' has capital letters", "ghcr.io/owner/autoglm-vllm"),
    ("GHCR.io/Acme/AutoGLM", "'Acme' and 'AutoGLM' have capital letters", "ghcr.io/acme/autoglm"),
    ("Acme/autoglm-vllm", "'Acme' has capital letters", "acme/autoglm-vllm"),
])
def test_capitals_in_the_image_repository_are_named_and_the_lowercase_value_offered(repo: str, named: str,
                                                                                    offered: str) -> None:
    with pytest.raises(SettingsError) as e:
        parse(imageRepository=repo)
    message = str(e.value)
    assert message.startswith(f"autoglm-runpod:imageRepository = {repo!r} is not valid: {named}")
    assert f"use {offered!r}" in message
    assert validate_image_repository(offered) is None  # what is offered is accepted


@pytest.mark.parametrize(("reference", "private"), [
    ("ghcr.io/acme/autoglm-vllm", "GitHub"), ("GHCR.IO/acme/x:v1", "GitHub"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/x", "ECR"), ("acme.azurecr.io/x", "Azure"),
    ("europe-west4-docker.pkg.dev/p/r/x", "Google"), ("eu.gcr.io/p/x", "Google"),
    ("docker.io/acme/autoglm-vllm", None), ("acme/autoglm-vllm", None), ("public.ecr.aws/acme/x", None),
    ("quay.io/acme/x", None), ("registry.example.com:5000/x", None),
])
def test_registries_private_by_default(reference: str, private: str | None) -> None:
    from components.image_ref import private_by_default

    found = private_by_default(reference)
    assert (found is None) is (private is None)
    assert found is None or (private is not None and private in found[0])


def test_preflight_refuses_an_incompatible_plan_naming_settings_and_fixes() -> None:
    with pytest.raises(PlanError) as e:
        preflight(parse(vllmVersion="0.6.5", gpuTypes='["RTX 4090"]', containerDiskGb="20"))
    message = str(e.value)
    assert "nothing was created" in message
    assert "autoglm-runpod:vllmVersion: vLLM 0.6.5 cannot serve" in message and "0.12.0 or newer" in message
    assert "autoglm-runpod:gpuTypes: 1 × NVIDIA GeForce RTX 4090 (24 GB) has not enough VRAM" in message
    assert "NVIDIA L40S" in message  # a card that fits is named
    assert "autoglm-runpod:containerDiskGb: 20 GB cannot hold" in message
    preflight(parse())  # the defaults are a working plan


def test_a_tag_the_release_lacks_is_refused_at_preview_with_the_tags_it_has() -> None:
    with pytest.raises(PlanError) as e:
        preflight(parse(vllmVersion="0.33.0-cu129"))
    message = str(e.value)
    assert "autoglm-runpod:vllmVersion: vllm/vllm-openai:v0.33.0-cu129 is not published" in message
    assert "set vllmVersion to one of 0.33.0, 0.33.0-efa, 0.33.0-x86_64-zstd" in message


def test_a_version_the_table_lacks_passes_preview_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    preflight(parse(vllmVersion="0.34.0"))
    warned = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("autoglm-runpod:vllmVersion = '0.34.0': vLLM 0.34.0 is newer than") and
               "NVIDIA_REQUIRE_CUDA" in m for m in warned), warned
    preflight(parse(vllmVersion="0.33.0"))
    assert len(caplog.records) == len(warned), "a known release warns nothing"
