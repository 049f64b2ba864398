"""Reading images from their registries (no Docker daemon): where a reference points, the user's Docker
credentials, the registry HTTP API with its token auth, manifest → platform manifest → config, and from the
config the CUDA the image demands of its host. `inspect_image` is what the stack asks, before any pod exists.
"""

from components.registry.client import RegistryClient
from components.registry.credentials import Credentials, docker_credentials
from components.registry.cuda import CudaRequirement, cuda_requirement
from components.registry.errors import (
    BadImage,
    Denied,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
    Unavailable,
)
from components.registry.image_config import ImageConfig, read_image_config
from components.registry.inspection import ImageFacts, PullRefused, inspect_image
from components.registry.reference import ImageReference, parse_reference, same_image

__all__ = [
    "BadImage", "Credentials", "CudaRequirement", "Denied", "ImageConfig", "ImageFacts", "ImageReference", "NotFound",
    "PullRefused", "RateLimited", "RegistryClient", "RegistryError", "Unauthorized", "Unavailable", "cuda_requirement",
    "docker_credentials", "inspect_image", "parse_reference", "read_image_config", "same_image",
]
