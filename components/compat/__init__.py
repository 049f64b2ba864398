"""What can run where: vLLM image → CUDA floor → host driver, RunPod GPU types, and what a model needs.

Data plus pure rules, no I/O and no Pulumi or HTTP import (`python -m components.compat` stays fast).
One module per kind of knowledge: `versions` (vLLM and CUDA versions), `gpus` (the GPU table), `models`
(VRAM and disk), `plan` (every problem of a choice, with its fix); `cli` is the command.
"""

from components.compat.gpus import GPU_TYPES, GpuType, UnknownGpuType, cc_tuple, resolve_gpu_type
from components.compat.models import (
    AUTOGLM_PHONE_9B,
    GPU_MEMORY_UTILIZATION,
    MODELS,
    ModelSpec,
    default_container_disk_gb,
    gpu_types_that_fit,
    min_container_disk_gb,
    model_spec,
    vram_budget_gib,
    vram_needed_gib,
)
from components.compat.plan import Problem, check_plan, network_volume_problem
from components.compat.versions import CudaFloor, Version, cuda_at_least, cuda_floor, parse_version

__all__ = [
    "AUTOGLM_PHONE_9B", "GPU_MEMORY_UTILIZATION", "GPU_TYPES", "MODELS", "CudaFloor", "GpuType", "ModelSpec",
    "Problem", "UnknownGpuType", "Version", "cc_tuple", "check_plan", "cuda_at_least", "cuda_floor",
    "default_container_disk_gb", "gpu_types_that_fit", "min_container_disk_gb", "model_spec",
    "network_volume_problem", "parse_version", "resolve_gpu_type", "vram_budget_gib", "vram_needed_gib",
]
