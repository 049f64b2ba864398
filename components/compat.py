"""What can run where: vLLM image → CUDA floor → host driver, RunPod GPU types, and what a model needs.

Data plus pure rules, no I/O. Sources are in ../shared/research/vllm_autoglm.md (§2.1 tag → CUDA, §2.2 CUDA →
driver, §4 GPU table and VRAM budget); the README's compatibility section repeats them for users.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AUTOGLM_PHONE_9B",
    "GPU_TYPES",
    "MODELS",
    "CudaFloor",
    "GpuType",
    "ModelSpec",
    "Problem",
    "UnknownGpuType",
    "check_plan",
    "cuda_floor",
    "default_container_disk_gb",
    "gpu_types_that_fit",
    "min_container_disk_gb",
    "model_spec",
    "parse_version",
    "resolve_gpu_type",
    "vram_needed_gib",
]

Version = tuple[int, int, int]

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-].*)?$")


def parse_version(text: str) -> Version:
    """`0.12.0`, `v0.12.0`, `0.10.1.1` or `0.21.0-cu129` → (major, minor, patch); ValueError otherwise."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a version like 0.12.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _fmt(v: Version) -> str:
    return ".".join(map(str, v))


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


def cuda_at_least(host_cuda: str, floor: str) -> bool:
    """Numeric major.minor comparison, as RunPod does it (12.11 > 12.2)."""
    return parse_version(host_cuda)[:2] >= parse_version(floor)[:2]


@dataclass(frozen=True)
class GpuType:
    id: str  # RunPod's gpu type id, exactly as REST v2 takes it
    aliases: tuple[str, ...]
    vram_gb: int
    compute_capability: str


# RunPod ids and VRAM from RunPod's gpu-types reference; compute capability from NVIDIA's CUDA GPU list.
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


@dataclass(frozen=True)
class ModelSpec:
    id: str
    min_vllm: str
    weights_gb: float  # bf16 weights on disk and in VRAM
    kv_bytes_per_token: int
    min_compute_capability: str  # bf16 needs Ampere (8.0) or newer
    max_context: int


# AutoGLM-Phone-9B is GLM-4.1V-9B: 40 layers, 2 KV heads of 128 dims, bf16 → 2 (K, V) × 40 × 2 × 128 × 2 B
# = 40 KiB of KV cache per token. Weights: the README says about 20 GB; GLM-4.1V-9B-Base is 20.6 GB in
# safetensors. Open-AutoGLM pins vLLM ≥ 0.12.0 (with transformers 5 in the image).
AUTOGLM_PHONE_9B = ModelSpec("zai-org/AutoGLM-Phone-9B", "0.12.0", 20.6, 40 * 1024, "8.0", 32768)
MODELS: dict[str, ModelSpec] = {
    m.id.casefold(): m
    for m in (AUTOGLM_PHONE_9B,
              ModelSpec("zai-org/AutoGLM-Phone-9B-Multilingual", "0.12.0", 20.6, 40 * 1024, "8.0", 32768))
}


def model_spec(model: str) -> ModelSpec | None:
    """What is known of a Hugging Face model id; None for a model this stack has no figures for."""
    return MODELS.get(model.strip().casefold())


# vLLM's default --gpu-memory-utilization: the share of VRAM the engine allows itself.
GPU_MEMORY_UTILIZATION = 0.9
# CUDA context, activations, the vision encoder's profiling pass with up to 10 images of ~6.4k tokens at
# max_pixels=5e6, and CUDA graphs: 3–6 GiB in public reports; 4 GiB is the middle of that range.
RUNTIME_OVERHEAD_GIB = 4.0
_GIB = 1024**3


def vram_needed_gib(spec: ModelSpec, max_model_len: int) -> float:
    """VRAM the engine needs: weights + runtime overhead + the KV cache of one full-length sequence.

    vLLM refuses to start when the KV pool cannot hold one `max_model_len` sequence, so that is the floor.
    """
    weights_gib = spec.weights_gb * 1e9 / _GIB
    kv_gib = spec.kv_bytes_per_token * max_model_len / _GIB
    return weights_gib + RUNTIME_OVERHEAD_GIB + kv_gib


def vram_budget_gib(gpu: GpuType, gpu_count: int) -> float:
    """What vLLM may use across the pod's GPUs (tensor parallelism splits weights and KV evenly)."""
    return gpu.vram_gb * gpu_count * GPU_MEMORY_UTILIZATION


def gpu_types_that_fit(spec: ModelSpec, max_model_len: int, gpu_count: int = 1) -> list[GpuType]:
    need = vram_needed_gib(spec, max_model_len)
    fit = [g for g in GPU_TYPES if vram_budget_gib(g, gpu_count) >= need
           and _cc(g.compute_capability) >= _cc(spec.min_compute_capability)]
    return sorted(fit, key=lambda g: (g.vram_gb, g.id))


def _cc(cc: str) -> tuple[int, int]:
    major, minor = cc.split(".")
    return int(major), int(minor)


# The vllm/vllm-openai image is ~28.6 GB unpacked (0.12 era). RunPod counts the image against the
# container disk on some hosts, so the default leaves room for it; the floor only refuses a disk that
# cannot hold the weights plus scratch (torch.compile cache, logs, the HF download's temporary files).
IMAGE_GB = 30
SCRATCH_GB = 10


def min_container_disk_gb(spec: ModelSpec | None, has_network_volume: bool) -> int:
    """Smallest containerDiskGb that can work: the weights live there unless a network volume holds them."""
    weights = 0.0 if has_network_volume or spec is None else spec.weights_gb
    return math.ceil(weights + SCRATCH_GB)


def default_container_disk_gb(spec: ModelSpec | None, has_network_volume: bool) -> int:
    """Default containerDiskGb: image + weights (when no volume holds them) + scratch, rounded up to 10 GB."""
    weights = 0.0 if has_network_volume else (spec.weights_gb if spec else 30.0)
    return math.ceil((IMAGE_GB + weights + SCRATCH_GB) / 10) * 10


@dataclass(frozen=True)
class Problem:
    """One reason a plan cannot work: which setting, what is wrong, and what to change."""

    setting: str  # short config key, e.g. "vllmVersion"
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message} Fix: {self.fix}"


def check_plan(vllm_version: str, gpu_types: Sequence[str], gpu_count: int, model: str,
               max_model_len: int, container_disk_gb: int | None = None,
               has_network_volume: bool = False) -> list[Problem]:
    """Every problem with a (vLLM version, GPU types, count, model, context length, disk) choice, each with its fix.

    An empty list means the plan can work (given a host whose driver meets the image's CUDA floor, which
    the pod's `minCudaVersion` then guarantees).
    """
    problems: list[Problem] = []
    try:
        parse_version(vllm_version)
    except ValueError:
        return [Problem("vllmVersion", f"{vllm_version!r} is not a vLLM version.",
                        "use a released vllm/vllm-openai tag such as 0.12.0.")]
    gpus: list[GpuType] = []
    for name in gpu_types:
        try:
            gpus.append(resolve_gpu_type(name))
        except UnknownGpuType as e:
            fix = f"use one of {', '.join(e.suggestions)}." if e.suggestions else \
                "use a RunPod GPU type id (`python -m components.compat --list`)."
            problems.append(Problem("gpuTypes", f"unknown GPU type {name!r}.", fix))
    if not gpu_types:
        problems.append(Problem("gpuTypes", "no GPU type given.", "set at least one, e.g. [\"NVIDIA L40S\"]."))
    if gpu_count < 1:
        problems.append(Problem("gpuCount", f"{gpu_count} GPUs.", "use 1 or more."))
        return problems
    spec = model_spec(model)
    if spec is not None:
        problems += _model_problems(spec, vllm_version, gpus, gpu_count, max_model_len)
        if container_disk_gb is not None:
            problems += _disk_problems(spec, container_disk_gb, has_network_volume)
    problems += _architecture_problems(vllm_version, gpus)
    return problems


def _model_problems(spec: ModelSpec, vllm_version: str, gpus: Sequence[GpuType], gpu_count: int,
                    max_model_len: int) -> list[Problem]:
    problems: list[Problem] = []
    if parse_version(vllm_version) < parse_version(spec.min_vllm):
        problems.append(Problem(
            "vllmVersion", f"vLLM {vllm_version} cannot serve {spec.id}: it needs vLLM ≥ {spec.min_vllm}.",
            f"set vllmVersion to {spec.min_vllm} or newer (its image needs a host with CUDA ≥ "
            f"{cuda_floor(spec.min_vllm).cuda}, which the pod requests)."))
    if max_model_len > spec.max_context:
        problems.append(Problem("maxModelLen", f"{max_model_len} tokens exceeds {spec.id}'s context of "
                                f"{spec.max_context}.", f"use at most {spec.max_context}."))
    need = vram_needed_gib(spec, max_model_len)
    fitting = ", ".join(g.id for g in gpu_types_that_fit(spec, max_model_len, gpu_count)[:5])
    for gpu in gpus:
        if _cc(gpu.compute_capability) < _cc(spec.min_compute_capability):
            problems.append(Problem(
                "gpuTypes", f"{gpu.id} (compute capability {gpu.compute_capability}) has no bf16, which "
                f"{spec.id} is served in.", f"choose a GPU of compute capability ≥ {spec.min_compute_capability}"
                f" such as {fitting}."))
        elif vram_budget_gib(gpu, gpu_count) < need:
            problems.append(Problem(
                "gpuTypes", f"{gpu_count} × {gpu.id} ({gpu.vram_gb} GB) has not enough VRAM for {spec.id} at "
                f"maxModelLen {max_model_len}: it needs about {need:.1f} GiB, vLLM may use "
                f"{vram_budget_gib(gpu, gpu_count):.1f} GiB.",
                f"choose a card that fits ({fitting}) or raise gpuCount."))
    return problems


def _disk_problems(spec: ModelSpec, container_disk_gb: int, has_network_volume: bool) -> list[Problem]:
    floor = min_container_disk_gb(spec, has_network_volume)
    if container_disk_gb >= floor:
        return []
    where = "scratch space" if has_network_volume else f"the {spec.weights_gb:g} GB of weights plus scratch space"
    return [Problem("containerDiskGb", f"{container_disk_gb} GB cannot hold {where} ({floor} GB).",
                    f"set containerDiskGb to at least {floor} (default "
                    f"{default_container_disk_gb(spec, has_network_volume)}), or put the weights on a "
                    "network volume (networkVolumeId).")]


# Architectures vLLM's images are compiled for: sm_100 and sm_120 (Blackwell) appear in the arch list
# from 0.9.2 on (torch_cuda_arch_list in docker/Dockerfile).
_MIN_VLLM_FOR_CC: dict[str, str] = {"10.0": "0.9.2", "12.0": "0.9.2"}


def _architecture_problems(vllm_version: str, gpus: Sequence[GpuType]) -> list[Problem]:
    problems = []
    for gpu in gpus:
        needed = _MIN_VLLM_FOR_CC.get(gpu.compute_capability)
        if needed and parse_version(vllm_version) < parse_version(needed):
            problems.append(Problem(
                "vllmVersion", f"vLLM {vllm_version} images have no kernels for {gpu.id} "
                f"(compute capability {gpu.compute_capability}).", f"use vLLM {needed} or newer, or another GPU."))
    return problems


if __name__ == "__main__":  # `python -m components.compat`; the command's I/O lives in compat_cli
    import sys

    from components.compat_cli import main

    sys.exit(main())
