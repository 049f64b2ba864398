"""`AutoGLMService`: the image (built, given or promoted) → what serves it (a pod, or a serverless endpoint, by
`deployment`) → the health check, for one stack."""

from __future__ import annotations

from typing import Any

import pulumi

from components.health.resource import HealthCheck, HealthCheckArgs
from components.service.cache import model_cache
from components.service.endpoint import EndpointDeployment, serverless_plan
from components.service.images import READY_IMAGE_WARNING, choose_image
from components.service.keys import vllm_api_key
from components.service.pod import PodDeployment
from components.settings import Secrets, Settings

__all__ = ["AutoGLMService"]


class AutoGLMService(pulumi.ComponentResource):
    """Everything one stack runs. Outputs are attributes; `exports()` gives the stack outputs."""

    def __init__(self, name: str, settings: Settings, secrets: Secrets,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autoglm:index:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.settings = settings
        # Serverless pools come from RunPod's catalog: a GPU type in none, or a budget they break, fails here,
        # before anything is registered.
        pools = serverless_plan(settings, secrets) if settings.deployment == "serverless" else None
        self.image = choose_image(name, settings, child)
        self.image_ref = self.image.ref
        # Serverless: no vLLM key; the RunPod key is the load balancer's lock, and the client's key.
        self.api_key = None if pools else vllm_api_key(name, settings, secrets, child)
        self.client_key = pulumi.Output.secret(secrets.runpod_api_key or "") if pools else self.api_key
        if not self.image.built_by_stack and self.api_key is not None:
            pulumi.log.warn(READY_IMAGE_WARNING)  # with publicEndpoint, its own warning already says it is open
        self.model_cache = model_cache(name, settings, self.image, self,
                                       products=("SERVERLESS",) if pools else ("POD",),
                                       gpu_type_ids=pools.gpu_type_ids if pools else None)
        self.deployment: PodDeployment | EndpointDeployment = (
            EndpointDeployment(name, settings, secrets, self.image, pools, self, self.model_cache) if pools
            else PodDeployment(name, settings, secrets, self.image, self.api_key, self, self.model_cache))
        self.base_url = self.deployment.base_url
        self.health = HealthCheck(f"{name}-health", HealthCheckArgs(
            base_url=self.base_url,
            served_model_name=settings.served_model_name,
            api_key=self.api_key,
            timeout_s=settings.health_timeout_minutes * 60,
            triggers=self.deployment.triggers,
            enabled=self.deployment.serving,
            endpoint_id=self.deployment.endpoint_id,
        ), pulumi.ResourceOptions(parent=self, depends_on=[self.deployment.resource]))
        # Only a digest that just answered a real chat request is offered for promotion.
        self.verified_image_ref = pulumi.Output.all(self.image_ref, self.health.status).apply(
            lambda args: args[0] if args[1] == "healthy" else None)
        self.client_command = self._client_command()
        self.register_outputs(self.exports())

    def _client_command(self) -> pulumi.Output[str]:
        model = self.settings.served_model_name
        if self.client_key is None:
            return self.base_url.apply(lambda url: f"python main.py --base-url {url} --model {model}")
        # The key is part of the command, so the whole command is a secret output.
        return pulumi.Output.secret(pulumi.Output.all(self.base_url, self.client_key).apply(
            lambda a: f"python main.py --base-url {a[0]} --model {model} --apikey {a[1]}"))

    def exports(self) -> dict[str, Any]:
        facts, health = self.image.facts, self.health
        return {
            **self.deployment.exports(),
            **(self.model_cache.exports() if self.model_cache else {}),
            "image_ref": self.image_ref,
            "image_cuda": pulumi.Output.all(
                cuda_floor=facts.cuda_floor, min_driver=facts.min_driver, require_cuda=facts.require_cuda,
                cuda_version=facts.cuda_version, anonymous_pull=facts.anonymous_pull),
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
