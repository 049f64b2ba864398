"""Promotion: a stack that deploys exactly the digest another stack verified (prod deploys what dev checked)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.names import PROJECT
from components.settings import Settings

__all__ = ["PromotionError", "promoted_image_ref", "qualified_stack_name"]


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
