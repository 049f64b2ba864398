"""Version numbers and CUDA: how versions parse and compare, and which Linux driver each CUDA needs (once, for
the whole stack). What each vLLM release's images demand is in `releases`.

Source: ../shared/research/vllm-releases.md §2 (NVIDIA's minimum Linux driver per CUDA toolkit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MIN_DRIVERS", "CudaFloor", "Version", "cuda_at_least", "cuda_floor_of", "major_minor", "min_driver",
           "parse_version"]

Version = tuple[int, int, int]

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-].*)?$")


def parse_version(text: str) -> Version:
    """`0.12.0`, `v0.12.0`, `0.10.1.1` or `0.21.0-cu129` → (major, minor, patch); ValueError otherwise."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a version like 0.12.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def major_minor(text: str) -> str:
    """`12.9.1` or `13` → `12.9` / `13.0`: CUDA as RunPod's gpu.minCudaVersion takes it."""
    major, minor, _ = parse_version(text if "." in text else f"{text}.0")
    return f"{major}.{minor}"


def cuda_at_least(host_cuda: str, floor: str) -> bool:
    """Numeric major.minor comparison, as RunPod does it (12.11 > 12.2)."""
    return parse_version(host_cuda)[:2] >= parse_version(floor)[:2]


# The lowest Linux driver that runs each CUDA (NVIDIA's toolkit release notes). 13.3's installer bundles
# 610.43.02, which is not a stated minimum, so it is left out: unknown rather than guessed.
MIN_DRIVERS: dict[str, str] = {
    "12.4": "550.54.14", "12.8": "570.26", "12.9": "575.51.03", "13.0": "580.65.06", "13.1": "590.44.01",
    "13.2": "595.45.04",
}


def min_driver(cuda: str) -> str | None:
    """The lowest Linux driver for `cuda` (major.minor or longer); None when not known."""
    return MIN_DRIVERS.get(major_minor(cuda))


@dataclass(frozen=True)
class CudaFloor:
    """The CUDA version an image demands of the host driver (its `cuda>=X` gate)."""

    cuda: str  # major.minor, as RunPod's gpu.minCudaVersion takes it
    min_driver: str  # the lowest Linux driver whose CUDA is at least `cuda` ("unknown" when not known)
    base_image_cuda: str  # the nvidia/cuda version the image is built on


def cuda_floor_of(base_image_cuda: str) -> CudaFloor:
    """The floor of an image built on nvidia/cuda `base_image_cuda` (e.g. 12.9.1 → cuda>=12.9)."""
    cuda = major_minor(base_image_cuda)
    return CudaFloor(cuda, min_driver(cuda) or "unknown", base_image_cuda)
