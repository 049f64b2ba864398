"""The composed stack under Pulumi mocks: what each stack registers, and policies on inputs and outputs."""

from __future__ import annotations

import json
import logging
import runpy
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components.service import PromotionError
from tests.conftest import ROOT, RecordingMocks, committed_stack_config, configure_mocks, stack_exports

POD = "pulumi-python:dynamic/runpod:Pod"
HEALTH = "pulumi-python:dynamic/vllm:HealthCheck"
COMMAND = "command:local:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
FACTS = "pulumi-python:dynamic/registry:ImageFacts"
DIGEST = "sha256:" + "ab" * 32
REPO = "ghcr.io/acme/autoglm-vllm"
DEV = {"imageRepository": REPO}
GENERATED_KEY = "generated-key-0123456789abcdefghijklmnopqrstuvwxyzABCD"


def fake_outputs(mocks: RecordingMocks) -> None:
    """What the plugins and providers would return, enough for the wiring to resolve."""
    metadata = json.dumps({"containerimage.digest": DIGEST})
    mocks.hooks[COMMAND] = lambda args: {"stdout": f"build log\n--- buildx metadata ---\n{metadata}"}
    mocks.hooks[PASSWORD] = lambda args: {"result": GENERATED_KEY}
    # An image that declares what the table expects (tests/test_image_facts.py covers a disagreement).
    mocks.hooks[FACTS] = lambda args: {
        "cuda_floor": args.inputs["table_cuda_floor"], "min_driver": "575.51.03", "anonymous_pull": True,
        "require_cuda": f"cuda>={args.inputs['table_cuda_floor']}", "cuda_version": "12.9.1"}
    mocks.hooks[POD] = lambda args: {
        "pod_id": "pod123", "status": "RUNNING" if args.inputs.get("running", True) else "EXITED",
        "gpu_type_id": args.inputs["gpu_type_ids"][0], "cuda_version": "12.9", "cost_per_hr": 0.86,
        "data_center_id": "EU-RO-1", "endpoint_url": "https://pod123-8000.proxy.runpod.net"}
    mocks.hooks[HEALTH] = lambda args: {
        "status": "healthy" if args.inputs.get("enabled", True) else "skipped",
        "healthy": bool(args.inputs.get("enabled", True)), "served_model": args.inputs["served_model_name"],
        "max_model_len": 25480, "vllm_version": "0.12.0", "latencies_ms": {"chat": 120.0}}


def program(stack: str, config: dict[str, Any], stack_outputs: dict[str, dict[str, Any]] | None = None,
            ) -> tuple[RecordingMocks, dict[str, Any]]:
    mocks = configure_mocks(stack, committed_stack_config(stack) | config)
    fake_outputs(mocks)
    mocks.stack_outputs = stack_outputs or {}
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    return mocks, stack_exports()


def resolved(exports: dict[str, Any], *names: str) -> pulumi.Output[list[Any]]:
    """The named exports, once every resource is registered (the health check is the last one)."""
    return pulumi.Output.all(exports["health"], *[exports[n] for n in names]).apply(lambda values: values[1:])


def is_secret(output: Any) -> pulumi.Output[bool]:
    return pulumi.Output.from_input(output.is_secret())


def plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def only(mocks: RecordingMocks, typ: str) -> pulumi.runtime.MockResourceArgs:
    found = mocks.of_type(typ)
    assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
    return found[0]


@pulumi.runtime.test
def test_dev_builds_the_image_and_pins_the_pod_to_its_digest_and_cuda_floor() -> pulumi.Output[Any]:
    mocks, exports = program("dev", DEV)

    def check(values: list[Any]) -> None:
        base_url, image_ref, verified, gpu_type, plan = values
        assert plan == {"gpu_types": ["NVIDIA L40S"], "gpu_count": 1, "cuda_floor": "12.9",
                        "min_driver": "575.51.03", "base_image": "vllm/vllm-openai:v0.12.0", "image_source": "build"}
        assert image_ref == f"{REPO}@{DIGEST}" and verified == image_ref
        assert base_url == "https://pod123-8000.proxy.runpod.net/v1"
        assert gpu_type == "NVIDIA L40S"
        pod = only(mocks, POD).inputs
        assert pod["name"] == "autoglm-runpod-dev-autoglm-pod"
        assert pod["image"] == image_ref
        assert pod["gpu_type_ids"] == ["NVIDIA L40S"] and pod["gpu_count"] == 1 and pod["cloud"] == "SECURE"
        assert pod["min_cuda_version"] == "12.9"
        assert pod["ports"] == ["8000/http"], "only the model port is exposed: no SSH, no Jupyter"
        assert pod["container_disk_gb"] == 70 and pod["ready_timeout_s"] == 1200
        assert "args" not in pod, "the built image carries its launch flags in its start script"
        env = pod["env"] if not rpc.is_rpc_secret(pod["env"]) else rpc.unwrap_rpc_secret(pod["env"])
        assert {k: plain(env[k]) for k in ("MODEL", "SERVED_MODEL_NAME", "MAX_MODEL_LEN")} == {
            "MODEL": "zai-org/AutoGLM-Phone-9B", "SERVED_MODEL_NAME": "autoglm-phone-9b", "MAX_MODEL_LEN": "25480"}
        assert rpc.is_rpc_secret(env["VLLM_API_KEY"]) or rpc.is_rpc_secret(pod["env"])
        assert plain(env["VLLM_API_KEY"]) == GENERATED_KEY
        assert len(mocks.of_type(COMMAND)) == 1

    return resolved(exports, "base_url", "image_ref", "verified_image_ref", "gpu_type", "plan").apply(check)


@pulumi.runtime.test
def test_health_check_follows_the_pod_with_its_triggers_and_the_key() -> pulumi.Output[Any]:
    mocks, exports = program("dev", DEV)

    def check(_: list[Any]) -> None:
        health = only(mocks, HEALTH).inputs
        assert health["base_url"] == "https://pod123-8000.proxy.runpod.net/v1"
        assert health["served_model_name"] == "autoglm-phone-9b"
        pod_id, image, launch = health["triggers"]  # a new pod, image or launch (env, args) re-runs the check
        assert [pod_id, image] == ["pod123", f"{REPO}@{DIGEST}"] and launch.startswith("launch:")
        assert rpc.is_rpc_secret(health["api_key"]) and plain(health["api_key"]) == GENERATED_KEY
        assert health["timeout_s"] == 1200 and health["enabled"] is True

    return resolved(exports, "health").apply(check)


@pulumi.runtime.test
def test_the_key_and_the_client_command_are_secret_outputs() -> pulumi.Output[Any]:
    _, exports = program("dev", DEV)

    def check(values: list[Any]) -> None:
        command_secret, key_secret, url_secret, command, key = values
        assert command_secret and key_secret and not url_secret
        assert command == ("python main.py --base-url https://pod123-8000.proxy.runpod.net/v1 "
                           f"--model autoglm-phone-9b --apikey {GENERATED_KEY}")
        assert key == GENERATED_KEY

    return pulumi.Output.all(is_secret(exports["client_command"]), is_secret(exports["vllm_api_key"]),
                             is_secret(exports["base_url"]), exports["client_command"],
                             exports["vllm_api_key"], exports["health"]).apply(lambda v: check(v[:5]))


@pulumi.runtime.test
def test_a_user_key_is_used_as_is_and_no_key_is_generated() -> pulumi.Output[Any]:
    mocks, exports = program("dev", DEV | {"vllmApiKey": "user-supplied-key-0123456789"})

    def check(values: list[Any]) -> None:
        (command,) = values
        assert mocks.of_type(PASSWORD) == []
        assert command.endswith("--apikey user-supplied-key-0123456789")

    return resolved(exports, "client_command").apply(check)


@pulumi.runtime.test
def test_public_endpoint_has_no_key_and_warns(caplog: pytest.LogCaptureFixture) -> pulumi.Output[Any]:
    caplog.set_level(logging.WARNING)
    mocks, exports = program("dev", DEV | {"publicEndpoint": "true"})

    def check(values: list[Any]) -> None:
        command, key = values
        assert mocks.of_type(PASSWORD) == []
        assert "VLLM_API_KEY" not in plain(only(mocks, POD).inputs["env"])
        assert "api_key" not in only(mocks, HEALTH).inputs
        assert "--apikey" not in command and key is None
        assert any("publicEndpoint is true" in r.getMessage() and "anyone" in r.getMessage() for r in caplog.records)

    return resolved(exports, "client_command", "vllm_api_key").apply(check)


@pytest.mark.parametrize(("config", "warned"), [
    ({"image": "vllm/vllm-openai:v0.12.0"}, True),
    ({"image": "vllm/vllm-openai:v0.12.0", "vllmApiKey": "user-supplied-key-0123456789"}, True),
    (DEV, False),
    ({"image": "vllm/vllm-openai:v0.12.0", "publicEndpoint": "true"}, False),  # the public warning says more
])
def test_a_ready_image_warns_that_only_vllms_key_guards_it(caplog: pytest.LogCaptureFixture,
                                                           config: dict[str, str], warned: bool) -> None:
    caplog.set_level(logging.WARNING)

    @pulumi.runtime.test
    def deploy() -> pulumi.Output[Any]:
        _, exports = program("dev", config)
        return resolved(exports, "image_ref")

    deploy()
    warnings = [r.getMessage() for r in caplog.records if "is a ready image" in r.getMessage()]
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert "/invocations" in warnings[0] and "autoglm-runpod:imageRepository" in warnings[0]


def private_registry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "registryAuthId" in r.getMessage()]


@pytest.mark.parametrize(("config", "says"), [
    (DEV, ["imageRepository = 'ghcr.io/acme/autoglm-vllm' and no registryAuthId",
           "GitHub makes a package private when it is first pushed", "Change visibility → Public"]),
    ({"image": "ghcr.io/acme/autoglm-vllm:v1"}, ["autoglm-runpod:image = 'ghcr.io/acme/autoglm-vllm:v1'"]),
    ({"imageRepository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/autoglm"}, ["Amazon ECR"]),
])
def test_preview_warns_of_an_image_on_a_registry_that_is_private_by_default(
        caplog: pytest.LogCaptureFixture, config: dict[str, str], says: list[str]) -> None:
    caplog.set_level(logging.WARNING)
    configure_mocks("dev", committed_stack_config("dev") | config, preview=True)
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    (warning,) = private_registry_warnings(caplog)
    for phrase in says:
        assert phrase in warning
    assert "a pod would be placed and bill while its image pull fails" in warning
    assert "create a RunPod container-registry credential and set autoglm-runpod:registryAuthId" in warning


@pytest.mark.parametrize("config", [
    DEV | {"registryAuthId": "cred_01"}, {"imageRepository": "docker.io/acme/autoglm-vllm"},
    {"image": "vllm/vllm-openai:v0.12.0"},
])
def test_no_private_registry_warning_with_credentials_or_a_public_by_default_registry(
        caplog: pytest.LogCaptureFixture, config: dict[str, str]) -> None:
    caplog.set_level(logging.WARNING)
    configure_mocks("dev", committed_stack_config("dev") | config, preview=True)
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert private_registry_warnings(caplog) == []


@pulumi.runtime.test
def test_a_given_image_skips_the_build_and_the_pod_carries_the_launch_flags() -> pulumi.Output[Any]:
    mocks, exports = program("dev", {"image": "vllm/vllm-openai:v0.12.0", "hfToken": "hf_token_value",
                                     "networkVolumeId": "vol12345"})

    def check(values: list[Any]) -> None:
        (image_ref,) = values
        assert image_ref == "vllm/vllm-openai:v0.12.0"
        assert mocks.of_type(COMMAND) == []
        pod = only(mocks, POD).inputs
        args = pod["args"]
        assert args.startswith("zai-org/AutoGLM-Phone-9B --served-model-name autoglm-phone-9b --max-model-len 25480")
        assert "--mm-encoder-tp-mode data" in args and "--port 8000" in args
        assert "allowed-local-media-path" not in args and "api-key" not in args
        env = plain(pod["env"])
        assert plain(env["HF_TOKEN"]) == "hf_token_value" and plain(env["HF_HOME"]) == "/workspace/hf"
        assert pod["network_volume_id"] == "vol12345" and pod["container_disk_gb"] == 40

    return resolved(exports, "image_ref").apply(check)


DEV_OUTPUTS = {"verified_image_ref": f"{REPO}@{DIGEST}", "vllm_version": "0.12.0"}


@pulumi.runtime.test
def test_prod_deploys_the_digest_dev_verified_on_h100_without_building() -> pulumi.Output[Any]:
    mocks, exports = program("prod", {}, {"organization/autoglm-runpod/dev": DEV_OUTPUTS})

    def check(values: list[Any]) -> None:
        image_ref, gpu_type = values
        assert image_ref == f"{REPO}@{DIGEST}" and gpu_type == "NVIDIA H100 PCIe"
        assert mocks.of_type(COMMAND) == []
        (reference,) = mocks.of_type("pulumi:pulumi:StackReference")
        assert reference.inputs["name"] == "organization/autoglm-runpod/dev"
        pod = only(mocks, POD).inputs
        assert pod["image"] == image_ref and pod["gpu_type_ids"] == ["NVIDIA H100 PCIe"]
        assert pod["name"] == "autoglm-runpod-prod-autoglm-pod" and "args" not in pod

    return resolved(exports, "image_ref", "gpu_type").apply(check)


@pytest.mark.parametrize(("dev_outputs", "message"), [
    ({}, "has no verified image"),
    ({"verified_image_ref": None, "vllm_version": "0.12.0"}, "has no verified image"),
    ({**DEV_OUTPUTS, "vllm_version": "0.13.0"}, "Set vllmVersion to 0.13.0"),
])
def test_promotion_without_a_verified_image_fails_at_preview(dev_outputs: dict[str, Any], message: str) -> None:
    mocks = configure_mocks("prod", committed_stack_config("prod"), preview=True)
    fake_outputs(mocks)
    mocks.stack_outputs = {"organization/autoglm-runpod/dev": dev_outputs}

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    with pytest.raises(PromotionError, match=message):
        run()


@pulumi.runtime.test
def test_stopped_pod_skips_the_health_check_and_offers_no_verified_image() -> pulumi.Output[Any]:
    mocks, exports = program("dev", DEV | {"running": "false"})

    def check(values: list[Any]) -> None:
        status, health, verified, base_url = values
        assert only(mocks, POD).inputs["running"] is False and status == "EXITED"
        assert only(mocks, HEALTH).inputs["enabled"] is False and health["status"] == "skipped"
        assert verified is None
        assert base_url == "https://pod123-8000.proxy.runpod.net/v1", "the URL stays known while stopped"

    return resolved(exports, "pod_status", "health", "verified_image_ref", "base_url").apply(check)


@pulumi.runtime.test
def test_the_pod_asks_for_the_floor_the_image_declares_not_the_tables() -> pulumi.Output[Any]:
    mocks = configure_mocks("dev", committed_stack_config("dev") | DEV | {"registryAuthId": "cred_01"})
    fake_outputs(mocks)
    mocks.hooks[FACTS] = lambda args: {"cuda_floor": "13.0", "min_driver": "580.65.06", "anonymous_pull": False,
                                       "require_cuda": "cuda>=13.0", "cuda_version": "13.0.2"}
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    exports = stack_exports()

    def check(values: list[Any]) -> None:
        image_ref, image_cuda, plan = values
        facts = only(mocks, FACTS).inputs
        assert facts["image"] == image_ref == f"{REPO}@{DIGEST}"
        assert (facts["table_cuda_floor"], facts["vllm_version"], facts["registry_auth_id"]) == ("12.9", "0.12.0",
                                                                                                 "cred_01")
        assert only(mocks, POD).inputs["min_cuda_version"] == "13.0", "the image's own gate wins"
        assert plan["cuda_floor"] == "12.9", "the plan (known at preview) keeps the table's floor"
        assert image_cuda == {"cuda_floor": "13.0", "min_driver": "580.65.06", "require_cuda": "cuda>=13.0",
                              "cuda_version": "13.0.2", "anonymous_pull": False}

    return resolved(exports, "image_ref", "image_cuda", "plan").apply(check)
