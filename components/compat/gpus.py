"""RunPod GPU types this stack knows: ids, aliases, VRAM and compute capability.

RunPod ids and VRAM from RunPod's gpu-types reference; compute capability from NVIDIA's CUDA GPU list
(../shared/research/vllm_autoglm.md §4).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GPU_TYPES", "GpuType", "UnknownGpuType", "cc_tuple", "resolve_gpu_type"]


@dataclass(frozen=True)
class GpuType:
    id: str  # RunPod's gpu type id, exactly as REST v2 takes it
    aliases: tuple[str, ...]
    vram_gb: int
    compute_capability: str


GPU_TYPES: tuple[GpuType, ...] = (
    GpuType("NVIDIA L40S", ("L40S",), 48, "8.9"),
    GpuType("NVIDIA L40", ("L40",), 48, "8.9"),
    GpuType("NVIDIA RTX 6000 Ada Generation", ("RTX 6000 Ada", "RTX6000ADA", "6000 Ada"), 48, "8.9"),
    GpuType("NVIDIA H100 PCIe", ("H100 PCIe", "H100-PCIE", "H100"), 80, "9.0"),
    GpuType("NVIDIA H100 80GB HBM3", ("H100 SXM", "H100-SXM", "H100 HBM3"), 80, "9.0"),
    GpuType("NVIDIA H100 NVL", ("H100 NVL",), 94, "9.0"),
    GpuType("NVIDIA H200", ("H200", "H200 SXM"), 141, "9.0"),
    GpuType("NVIDIA A100 80GB PCIe", ("A100 PCIe", "A100-PCIE", "A100 80GB PCIe"), 80, "8.0"),
    GpuType("NVIDIA A100-SXM4-80GB", ("A100 SXM", "A100-SXM", "A100 80GB SXM", "A100"), 80, "8.0"),
    GpuType("NVIDIA RTX A6000", ("A6000", "RTX A6000"), 48, "8.6"),
    GpuType("NVIDIA A40", ("A40",), 48, "8.6"),
    GpuType("NVIDIA RTX A5000", ("A5000", "RTX A5000"), 24, "8.6"),
    GpuType("NVIDIA RTX A4500", ("A4500", "RTX A4500"), 20, "8.6"),
    GpuType("NVIDIA RTX 4000 Ada Generation", ("RTX 4000 Ada", "4000 Ada"), 20, "8.9"),
    GpuType("NVIDIA L4", ("L4",), 24, "8.9"),
    GpuType("NVIDIA GeForce RTX 3090", ("RTX 3090", "3090"), 24, "8.6"),
    GpuType("NVIDIA GeForce RTX 4090", ("RTX 4090", "4090"), 24, "8.9"),
    GpuType("NVIDIA GeForce RTX 5090", ("RTX 5090", "5090"), 32, "12.0"),
    GpuType("NVIDIA RTX PRO 6000 Blackwell Server Edition", ("RTX PRO 6000", "RTX PRO 6000 Blackwell"), 96, "12.0"),
    GpuType("NVIDIA B200", ("B200",), 180, "10.0"),
    GpuType("NVIDIA A30", ("A30",), 24, "8.0"),
    GpuType("Tesla V100-SXM2-32GB", ("V100", "V100 SXM2 32GB"), 32, "7.0"),
)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip()).casefold()


_BY_NAME: dict[str, GpuType] = {}
for _gpu in GPU_TYPES:
    for _name in (_gpu.id, *_gpu.aliases):
        _BY_NAME[_norm(_name)] = _gpu


class UnknownGpuType(ValueError):
    def __init__(self, name: str, suggestions: Sequence[str]) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown GPU type {name!r}{hint} (known ids: `python -m components.compat --list`)")


def resolve_gpu_type(name: str) -> GpuType:
    """A RunPod GPU type id or short alias (case and spacing ignored) → its GpuType; UnknownGpuType otherwise."""
    found = _BY_NAME.get(_norm(name))
    if found is not None:
        return found
    close = difflib.get_close_matches(_norm(name), list(_BY_NAME), n=6, cutoff=0.5)
    ids = list(dict.fromkeys(_BY_NAME[c].id for c in close))[:3]
    raise UnknownGpuType(name, ids)


def cc_tuple(cc: str) -> tuple[int, int]:
    """"8.9" → (8, 9), so capabilities compare as numbers."""
    major, minor = cc.split(".")
    return int(major), int(minor)
