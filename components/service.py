"""`AutoGLMService`: the image (built, given or promoted) → the RunPod pod → the health check, for one stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random

from components.health.resource import HealthCheck, HealthCheckArgs
from components.image import VllmImage, VllmImageArgs, cache_env, launch_args, launch_env
from components.image_ref import private_by_default
from components.names import PROJECT, resource_name
from components.providers.image_facts import ImageFacts, ImageFactsArgs
from components.providers.pod import Pod, PodArgs
from components.settings import Secrets, Settings

SERVED_PORT = "8000/http"
VOLUME_MOUNT_PATH = "/workspace"
PUBLIC_ENDPOINT_WARNING = (
    f"{PROJECT}:publicEndpoint is true: the model server answers anyone who finds its URL "
    "(https://POD_ID-8000.proxy.runpod.net). They can use the GPU you pay for and read what your phone agent "
    "sends, screenshots included. Unset publicEndpoint to have the stack generate and enforce an API key.")
READY_IMAGE_WARNING = (
    f"{PROJECT}:image is a ready image, not this project's build: no nginx stands in front of vLLM, so only "
    "vLLM's --api-key guards it, and that covers /v1 alone. POST /invocations answers chat completions without "
    "a key, and /tokenize and /metrics answer anyone who finds the pod's URL. Set "
    f"{PROJECT}:imageRepository instead, to build this project's image, which lets only /health, /ping and "
    "/v1 with the key through.")


def private_image_warning(s: Settings) -> str | None:
    """What to check when the pod's image sits on a registry that is private by default and no registryAuthId
    is set: RunPod would place the pod, bill it, and fail to pull. (A promoted image was checked on its stack.)"""
    key, reference = ("image", s.image) if s.image else ("imageRepository", s.image_repository)
    private = private_by_default(reference) if reference and not s.registry_auth_id else None
    if private is None:
        return None
    why, fix = private
    return (f"{PROJECT}:{key} = {reference!r} and no registryAuthId: {why}, and without registryAuthId RunPod "
            "pulls anonymously, so a pod would be placed and bill while its image pull fails. Check that the "
            f"image can be pulled without logging in ({fix}), or create a RunPod container-registry credential "
            f"and set {PROJECT}:registryAuthId (README.md, Where the image goes). Once the image is public, "
            "ignore this warning.")


@dataclass(frozen=True)
class ImageChoice:
    ref: pulumi.Output[str]
    built_by_stack: bool  # our image (built here or promoted): launch flags come from its start script's env


class AutoGLMService(pulumi.ComponentResource):
    """Everything one stack runs. Outputs are attributes; `exports()` gives the stack outputs."""

    def __init__(self, name: str, settings: Settings, secrets: Secrets,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autoglm:index:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.settings = settings
        image = self._image(name, settings, child)
        self.image_ref = image.ref
        # Read from the registry at `up`, before the pod: the floor the image declares, and that RunPod can pull it.
        self.image_facts = ImageFacts(f"{name}-image-facts", ImageFactsArgs(
            image=image.ref, registry_auth_id=settings.registry_auth_id, vllm_version=settings.vllm_version,
            table_cuda_floor=settings.cuda_floor.cuda), child)
        self.api_key = self._api_key(name, settings, secrets, child)
        if not image.built_by_stack and self.api_key is not None:
            pulumi.log.warn(READY_IMAGE_WARNING)  # with publicEndpoint, its own warning already says it is open
        self.pod = Pod(f"{name}-pod", self._pod_args(name, settings, secrets, image), pulumi.ResourceOptions(
            parent=self, custom_timeouts=pulumi.CustomTimeouts(create=f"{settings.health_timeout_minutes + 10}m")))
        self.base_url = self.pod.endpoint_url.apply(lambda url: f"{url}/v1")
        self.health = HealthCheck(f"{name}-health", HealthCheckArgs(
            base_url=self.base_url,
            served_model_name=settings.served_model_name,
            api_key=self.api_key,
            timeout_s=settings.health_timeout_minutes * 60,
            triggers=[self.pod.pod_id, self.image_ref],
            enabled=settings.running,
        ), pulumi.ResourceOptions(parent=self, depends_on=[self.pod]))
        # Only a digest that just answered a real chat request is offered for promotion.
        self.verified_image_ref = pulumi.Output.all(self.image_ref, self.health.status).apply(
            lambda args: args[0] if args[1] == "healthy" else None)
        self.client_command = self._client_command()
        self.register_outputs(self.exports())

    # ---- the image ----------------------------------------------------------------------------------------

    def _image(self, name: str, s: Settings, child: pulumi.ResourceOptions) -> ImageChoice:
        if warning := private_image_warning(s):
            pulumi.log.warn(warning)
        if s.image:
            return ImageChoice(pulumi.Output.from_input(s.image), built_by_stack=False)
        if s.promote_from:
            return ImageChoice(promoted_image_ref(s), built_by_stack=True)
        assert s.image_repository is not None  # settings guarantee one image source
        built = VllmImage(f"{name}-image", VllmImageArgs(repository=s.image_repository,
                                                         vllm_version=s.vllm_version, model=s.model), child)
        return ImageChoice(built.ref, built_by_stack=True)

    # ---- the API key that guards /v1 ----------------------------------------------------------------------

    @staticmethod
    def _api_key(name: str, s: Settings, secrets: Secrets,
                 child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
        if secrets.vllm_api_key is not None:
            return secrets.vllm_api_key
        if s.public_endpoint:
            pulumi.log.warn(PUBLIC_ENDPOINT_WARNING)
            return None
        # Generated once and kept in state (as a secret): stable across `pulumi up`, rotated by replacing it.
        generated = pulumi_random.RandomPassword(f"{name}-vllm-api-key", length=48, special=False, opts=child)
        return pulumi.Output.secret(generated.result)

    # ---- the pod ------------------------------------------------------------------------------------------

    def _pod_args(self, name: str, s: Settings, secrets: Secrets, image: ImageChoice) -> PodArgs:
        volume_path = VOLUME_MOUNT_PATH if s.network_volume_id else None
        env: dict[str, pulumi.Input[str]] = {}
        args: str | None = None
        if image.built_by_stack:
            env.update(launch_env(model=s.model, served_model_name=s.served_model_name,
                                  max_model_len=s.max_model_len, gpu_count=s.gpu_count,
                                  volume_mount_path=volume_path))
        else:
            args = launch_args(model=s.model, served_model_name=s.served_model_name,
                               max_model_len=s.max_model_len, gpu_count=s.gpu_count)
            if volume_path:
                env.update(cache_env(volume_path))
        if secrets.hf_token is not None:
            env["HF_TOKEN"] = secrets.hf_token
        if self.api_key is not None:
            env["VLLM_API_KEY"] = self.api_key
        return PodArgs(
            name=resource_name(s.stack, f"{name}-pod"),
            image=image.ref,
            gpu_type_ids=list(s.gpu_types),
            gpu_count=s.gpu_count,
            cloud=s.cloud,
            min_cuda_version=self.image_facts.cuda_floor,  # the image's own gate, not the table's
            container_disk_gb=s.container_disk_gb,
            ports=[SERVED_PORT],
            env=env,
            args=args,
            network_volume_id=s.network_volume_id,
            volume_mount_path=VOLUME_MOUNT_PATH,
            registry_auth_id=s.registry_auth_id,
            max_cost_per_hour=s.max_cost_per_hour,
            ready_timeout_s=s.health_timeout_minutes * 60,
            running=s.running,
        )

    # ---- outputs ------------------------------------------------------------------------------------------

    def _client_command(self) -> pulumi.Output[str]:
        model = self.settings.served_model_name
        if self.api_key is None:
            return self.base_url.apply(lambda url: f"python main.py --base-url {url} --model {model}")
        # The key is part of the command, so the whole command is a secret output.
        return pulumi.Output.secret(pulumi.Output.all(self.base_url, self.api_key).apply(
            lambda a: f"python main.py --base-url {a[0]} --model {model} --apikey {a[1]}"))

    def exports(self) -> dict[str, Any]:
        health = self.health
        return {
            "base_url": self.base_url,
            "pod_id": self.pod.pod_id,
            "pod_status": self.pod.status,
            "gpu_type": self.pod.gpu_type_id,
            "host_cuda_version": self.pod.cuda_version,
            "cost_per_hour": self.pod.cost_per_hr,
            "image_ref": self.image_ref,
            "image_cuda": pulumi.Output.all(
                cuda_floor=self.image_facts.cuda_floor, min_driver=self.image_facts.min_driver,
                require_cuda=self.image_facts.require_cuda, cuda_version=self.image_facts.cuda_version,
                anonymous_pull=self.image_facts.anonymous_pull),
            "verified_image_ref": self.verified_image_ref,
            "vllm_version": self.settings.vllm_version,
            "served_model_name": self.settings.served_model_name,
            "client_command": self.client_command,
            "vllm_api_key": self.api_key,
            "health": pulumi.Output.all(
                status=health.status, healthy=health.healthy, seconds_to_healthy=health.seconds_to_healthy,
                served_model=health.served_model, max_model_len=health.max_model_len,
                vllm_version=health.vllm_version, latencies_ms=health.latencies_ms, checked_at=health.checked_at,
                reason=health.reason),
        }


# ---- promotion ------------------------------------------------------------------------------------------------

def qualified_stack_name(promote_from: str) -> str:
    """`dev` → `ORG/autoglm-runpod/dev`; `project/dev` → `ORG/project/dev`; a full name stays as it is."""
    parts = promote_from.split("/")
    if len(parts) == 3:
        return promote_from
    org = pulumi.get_organization() or "organization"  # the DIY backend's name for "no organization"
    return f"{org}/{promote_from}" if len(parts) == 2 else f"{org}/{pulumi.get_project()}/{promote_from}"


class PromotionError(pulumi.RunError):
    pass


def promoted_image_ref(s: Settings) -> pulumi.Output[str]:
    """The source stack's `verified_image_ref`; fails (at preview too) when it has none or a different vLLM."""
    assert s.promote_from is not None
    source = qualified_stack_name(s.promote_from)
    ref = pulumi.StackReference(f"{s.stack}-promote-from", stack_name=source)

    def require(values: list[Any]) -> str:
        image_ref, vllm_version = values
        if not image_ref:
            raise PromotionError(
                f"{PROJECT}:promoteFrom = {s.promote_from!r}: stack {source} has no verified image "
                "(verified_image_ref is empty). Run `pulumi up` on it until its health check passes, then retry.")
        if vllm_version and vllm_version != s.vllm_version:
            raise PromotionError(
                f"{PROJECT}:vllmVersion = {s.vllm_version!r}: the image verified by {source} is vLLM "
                f"{vllm_version}, whose CUDA floor the pod must request. Set vllmVersion to {vllm_version}.")
        return str(image_ref)

    return pulumi.Output.all(ref.get_output("verified_image_ref"), ref.get_output("vllm_version")).apply(require)
