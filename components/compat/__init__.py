"""What can run where: vLLM image → CUDA floor → host driver, RunPod GPU types, and what a model needs.

Data plus pure rules, no I/O and no Pulumi or HTTP import (`python -m components.compat` stays fast).
One module per kind of knowledge: `versions` (version numbers, CUDA → driver), `releases` (each vLLM release's
image tags, CUDA floors, architectures, transformers), `gpus` (the GPU table), `models` (VRAM and disk),
`plan` (every problem of a choice, with its fix); `cli` is the command.
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
from components.compat.plan import AUTO, Problem, auto_gpu_types, check_plan, gpu_problem, network_volume_problem
from components.compat.releases import (
    RELEASES,
    ImageTag,
    architectures,
    cuda_floor,
    image_tag,
    is_known,
    published_tags,
    runs_on,
    ships_transformers_5,
    split_tag,
    transformers_pin,
    version_note,
)
from components.compat.versions import CudaFloor, Version, cuda_at_least, major_minor, min_driver, parse_version

__all__ = [
    "AUTO", "AUTOGLM_PHONE_9B", "GPU_MEMORY_UTILIZATION", "GPU_TYPES", "MODELS", "RELEASES", "CudaFloor", "GpuType",
    "ImageTag", "ModelSpec", "Problem", "UnknownGpuType", "Version", "architectures", "auto_gpu_types", "cc_tuple",
    "check_plan", "cuda_at_least", "cuda_floor", "default_container_disk_gb", "gpu_problem", "gpu_types_that_fit",
    "image_tag", "is_known", "major_minor", "min_container_disk_gb", "min_driver", "model_spec",
    "network_volume_problem", "parse_version", "published_tags", "resolve_gpu_type", "runs_on", "ships_transformers_5",
    "split_tag", "transformers_pin", "version_note", "vram_budget_gib", "vram_needed_gib",
]
