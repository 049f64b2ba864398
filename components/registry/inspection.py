"""Before any pod exists: can RunPod pull this image, and which CUDA does it demand? Read from the registry.

RunPod pulls anonymously unless the pod names a registry credential (`registryAuthId`), so the image is read
anonymously first; that read is also the check that RunPod's pull will work. When the registry refuses it and
a credential is set, the config is read with the user's own Docker credentials instead (RunPod's stored
password cannot be read back, so the stack cannot prove that credential works, only that one is set).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from components.image_ref import private_by_default
from components.names import setting
from components.registry.client import RegistryClient
from components.registry.credentials import docker_config_path, docker_credentials
from components.registry.cuda import CudaRequirement, cuda_requirement
from components.registry.errors import Denied, NotFound, RegistryError, Unauthorized
from components.registry.image_config import ImageConfig, read_image_config
from components.registry.reference import ImageReference, parse_reference

__all__ = ["ImageFacts", "PullRefused", "inspect_image"]


class PullRefused(RegistryError):
    """RunPod could not pull the image: it is private (or missing) and no registry credential is set."""


@dataclass(frozen=True)
class ImageFacts:
    image: str
    platform: str
    cuda: CudaRequirement
    config: ImageConfig
    anonymous_pull: bool  # False: readable only with credentials (the pod then needs registryAuthId)


def _read(ref: ImageReference, platform: str, environ: Mapping[str, str] | None, anonymous: bool) -> ImageFacts:
    credentials = None if anonymous else docker_credentials(ref.registry, environ)
    if not anonymous and credentials is None:
        read_from = docker_config_path(os.environ if environ is None else environ)
        raise RegistryError(
            f"{ref} is not readable anonymously, and {read_from} holds no credentials for {ref.registry} to read its "
            f"CUDA requirement before the pod is created. Run `docker login {ref.registry}` (with a token that can "
            "read it) on this machine, then `pulumi up` again.")
    with RegistryClient(ref, credentials) as client:
        config = read_image_config(client, platform)
    return ImageFacts(str(ref), platform, cuda_requirement(config.env, str(ref)), config, anonymous)


def _refused_message(ref: ImageReference, refusal: RegistryError) -> str:
    private = private_by_default(str(ref))
    public = f"{private[1]} ({private[0]})" if private else "make the image public"
    return (f"RunPod cannot pull {ref}: {refusal}, and {setting('registryAuthId')} is not set, so the pod would "
            f"bill while it fails to start. Nothing was created. Fix one of: {public}" +
            "; or create a RunPod container registry credential with a token that can read it (RunPod console → "
            "Settings → Container Registry Auth, or POST /v2/registries) and `pulumi config set registryAuthId "
            "<its id>`.")


def inspect_image(image: str, *, platform: str = "linux/amd64", registry_auth_id: str | None = None,
                  environ: Mapping[str, str] | None = None) -> ImageFacts:
    """Read `image`'s CUDA requirement, checking on the way that RunPod can pull it."""
    try:
        ref = parse_reference(image)
    except ValueError as e:
        raise RegistryError(f"{image!r} is not an image reference: {e}") from None
    try:
        return _read(ref, platform, environ, anonymous=True)
    except (Unauthorized, Denied, NotFound) as refusal:
        # Some registries answer 404, not 401, to hide a private image; with a credential set, look again.
        if not registry_auth_id:
            if isinstance(refusal, NotFound):
                raise
            raise PullRefused(_refused_message(ref, refusal), status=refusal.status) from None
        return _read(ref, platform, environ, anonymous=False)
