"""vLLM image → the CUDA its host driver must run, and how CUDA versions compare (once, for the whole stack).

Sources: ../shared/research/vllm_autoglm.md §2.1 (tag → CUDA), §2.2 (CUDA → driver); the README's
compatibility section repeats them for users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CudaFloor", "Version", "cuda_at_least", "cuda_floor", "parse_version"]

Version = tuple[int, int, int]

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-].*)?$")


def parse_version(text: str) -> Version:
    """`0.12.0`, `v0.12.0`, `0.10.1.1` or `0.21.0-cu129` → (major, minor, patch); ValueError otherwise."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a version like 0.12.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def cuda_at_least(host_cuda: str, floor: str) -> bool:
    """Numeric major.minor comparison, as RunPod does it (12.11 > 12.2)."""
    return parse_version(host_cuda)[:2] >= parse_version(floor)[:2]


@dataclass(frozen=True)
class CudaFloor:
    """The CUDA version a `vllm/vllm-openai` image demands of the host driver (its `cuda>=X` gate)."""

    cuda: str  # major.minor, as RunPod's gpu.minCudaVersion takes it
    min_driver: str  # the lowest Linux driver whose CUDA is at least `cuda` (NVIDIA toolkit release notes)
    base_image_cuda: str  # the nvidia/cuda tag the vLLM image is built on


# (first vLLM version of the range, floor). Change points read from each release's docker/Dockerfile.
_CUDA_FLOORS: tuple[tuple[Version, CudaFloor], ...] = (
    ((0, 0, 0), CudaFloor("12.4", "550.54.14", "12.4.1")),
    ((0, 9, 0), CudaFloor("12.8", "570.26", "12.8.1")),
    ((0, 11, 1), CudaFloor("12.9", "575.51.03", "12.9.1")),
    ((0, 20, 0), CudaFloor("13.0", "580.65.06", "13.0.2")),
)


def cuda_floor(vllm_version: str) -> CudaFloor:
    """CUDA floor of the `vllm/vllm-openai:v{vllm_version}` image.

    Versions before 0.4.3 were CUDA 12.1 images; they are far below what any model here needs, so they share
    the 12.4 floor rather than a row of their own. A `-cu129` tag suffix picks the CUDA 12.9 variant that
    vLLM publishes beside the CUDA 13 default from 0.20 on.
    """
    v = parse_version(vllm_version)
    if vllm_version.strip().endswith("-cu129"):
        return _CUDA_FLOORS[2][1]
    floor = _CUDA_FLOORS[0][1]
    for first, candidate in _CUDA_FLOORS:
        if v >= first:
            floor = candidate
    return floor
