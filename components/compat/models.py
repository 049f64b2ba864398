"""What a model needs: its figures, the VRAM for a context length, and the container disk.

Sources: ../shared/research/vllm_autoglm.md §4 (VRAM budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.compat.gpus import GPU_TYPES, GpuType, cc_tuple

__all__ = ["AUTOGLM_PHONE_9B", "GPU_MEMORY_UTILIZATION", "MODELS", "ModelSpec", "default_container_disk_gb",
           "gpu_types_that_fit", "min_container_disk_gb", "model_spec", "vram_budget_gib", "vram_needed_gib"]


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
           and cc_tuple(g.compute_capability) >= cc_tuple(spec.min_compute_capability)]
    return sorted(fit, key=lambda g: (g.vram_gb, g.id))


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
