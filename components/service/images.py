"""Where a stack's image comes from (built here, given, or promoted), and what its registry says of it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.image import VllmImage, VllmImageArgs
from components.image_ref import private_by_default
from components.names import PROJECT
from components.providers.image_facts import ImageFacts, ImageFactsArgs
from components.service.promotion import promoted_image_ref
from components.settings import Settings

__all__ = ["READY_IMAGE_WARNING", "ImageChoice", "choose_image", "private_image_warning"]

READY_IMAGE_WARNING = (
    f"{PROJECT}:image is a ready image, not this project's build: no nginx stands in front of vLLM, so only "
    "vLLM's --api-key guards it, and that covers /v1 alone. POST /invocations answers chat completions without "
    "a key, and /tokenize and /metrics answer anyone who finds the pod's URL. Set "
    f"{PROJECT}:imageRepository instead, to build this project's image, which lets only /health, /ping and "
    "/v1 with the key through.")


def private_image_warning(s: Settings) -> str | None:
    """What to check when the image sits on a registry that is private by default and no registryAuthId is set:
    RunPod would place the pod, bill it, and fail to pull. (A promoted image was checked on its stack.)"""
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
    facts: ImageFacts  # read from the registry at `up`, before anything runs it: its CUDA floor, the pull check


def choose_image(name: str, s: Settings, child: pulumi.ResourceOptions) -> ImageChoice:
    if warning := private_image_warning(s):
        pulumi.log.warn(warning)
    if s.image:
        ref, ours = pulumi.Output.from_input(s.image), False
    elif s.promote_from:
        ref, ours = promoted_image_ref(s), True
    else:
        assert s.image_repository is not None  # settings guarantee one image source
        built = VllmImage(f"{name}-image", VllmImageArgs(repository=s.image_repository,
                                                         vllm_version=s.vllm_version, model=s.model), child)
        ref, ours = built.ref, True
    facts = ImageFacts(f"{name}-image-facts", ImageFactsArgs(
        image=ref, registry_auth_id=s.registry_auth_id, vllm_version=s.vllm_version,
        table_cuda_floor=s.cuda_floor.cuda), child)
    return ImageChoice(ref, ours, facts)
