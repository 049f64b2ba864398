"""The CUDA an image demands of its host, from its own environment, exactly as `nvidia-container-cli` reads
it: `NVIDIA_REQUIRE_CUDA` (space-separated alternatives, each a comma-separated conjunction, e.g.
`cuda>=12.9 brand=tesla,driver>=535,driver<536`), else, for images older than that variable, `CUDA_VERSION`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from components.compat.versions import major_minor, min_driver, parse_version
from components.registry.errors import BadImage

__all__ = ["CudaRequirement", "cuda_requirement"]

_CUDA_TERM = re.compile(r"^cuda>=(\d+(?:\.\d+)*)$")


@dataclass(frozen=True)
class CudaRequirement:
    floor: str  # major.minor: what RunPod's gpu.minCudaVersion takes
    require_cuda: str | None  # NVIDIA_REQUIRE_CUDA as the image declares it
    cuda_version: str | None  # CUDA_VERSION, the toolkit inside the image

    @property
    def min_driver(self) -> str | None:
        return min_driver(self.floor)

    @property
    def source(self) -> str:
        return f"NVIDIA_REQUIRE_CUDA=cuda>={self.floor}" if self.require_cuda else f"CUDA_VERSION={self.cuda_version}"


def _floor_of_requirement(value: str) -> str | None:
    """The plain `cuda>=X.Y` alternative (the others pin datacenter drivers RunPod cannot ask for)."""
    floors = [m.group(1) for alternative in value.split() if (m := _CUDA_TERM.match(alternative.strip()))]
    return min(floors, key=lambda f: parse_version(major_minor(f))) if floors else None


def cuda_requirement(env: Mapping[str, str], image: str) -> CudaRequirement:
    """The image's CUDA floor from its config's environment; `BadImage` when it declares none."""
    require, version = env.get("NVIDIA_REQUIRE_CUDA") or None, env.get("CUDA_VERSION") or None
    floor = _floor_of_requirement(require) if require else None
    if floor is None and version:
        floor = version
    if floor is None:
        raise BadImage(f"{image} declares no CUDA requirement (neither NVIDIA_REQUIRE_CUDA=cuda>=X.Y nor "
                       "CUDA_VERSION in its config), so nothing tells which host driver it needs: base it on an "
                       "nvidia/cuda or vllm/vllm-openai image")
    try:
        return CudaRequirement(major_minor(floor), require, version)
    except ValueError:
        raise BadImage(f"{image} declares an unreadable CUDA requirement ({require or version!r})") from None
