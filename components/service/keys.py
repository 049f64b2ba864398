"""The key that guards the server's /v1: given, generated once and kept in state, or none (public)."""

from __future__ import annotations

import pulumi
import pulumi_random

from components.image import SERVE_PORT
from components.names import PROJECT
from components.settings import Secrets, Settings

__all__ = ["PUBLIC_ENDPOINT_WARNING", "vllm_api_key"]

PUBLIC_ENDPOINT_WARNING = (
    f"{PROJECT}:publicEndpoint is true: the model server answers anyone who finds its URL "
    f"(https://POD_ID-{SERVE_PORT}.proxy.runpod.net). They can use the GPU you pay for and read what your phone agent "
    "sends, screenshots included. Unset publicEndpoint to have the stack generate and enforce an API key.")


def vllm_api_key(name: str, s: Settings, secrets: Secrets, child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
    if secrets.vllm_api_key is not None:
        return secrets.vllm_api_key
    if s.public_endpoint:
        pulumi.log.warn(PUBLIC_ENDPOINT_WARNING)
        return None
    # Generated once and kept in state (as a secret): stable across `pulumi up`, rotated by replacing it.
    generated = pulumi_random.RandomPassword(f"{name}-vllm-api-key", length=48, special=False, opts=child)
    return pulumi.Output.secret(generated.result)
