"""`check_plan`: every reason a (vLLM version, GPU types, count, model, context, disk) choice cannot work,
each naming the setting and its fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.compat.gpus import GPU_TYPES, GpuType, UnknownGpuType, cc_tuple, resolve_gpu_type
from components.compat.models import (
    ModelSpec,
    default_container_disk_gb,
    gpu_types_that_fit,
    min_container_disk_gb,
    model_spec,
    vram_budget_gib,
    vram_needed_gib,
)
from components.compat.releases import architecture_fix, cuda_floor, runs_on, split_tag, tag_problem
from components.compat.versions import parse_version

__all__ = ["AUTO", "Problem", "auto_gpu_types", "check_plan", "gpu_problem", "network_volume_problem"]

# The last entry of gpuTypes that lets the live catalog add every GPU type these rules let through.
AUTO = "auto"


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
    the pod's `minCudaVersion` then guarantees). `auto` in `gpu_types` is checked as a whole: some GPU type
    must fit.
    """
    auto = AUTO in gpu_types
    gpu_types = [g for g in gpu_types if g != AUTO]
    problems: list[Problem] = []
    try:
        split_tag(vllm_version)
    except ValueError:
        return [Problem("vllmVersion", f"{vllm_version!r} is not a vLLM version.",
                        "use a released vllm/vllm-openai tag such as 0.12.0.")]
    if missing := tag_problem(vllm_version):
        problems.append(Problem("vllmVersion", *missing))
    gpus: list[GpuType] = []
    for name in gpu_types:
        try:
            gpus.append(resolve_gpu_type(name))
        except UnknownGpuType as e:
            fix = f"use one of {', '.join(e.suggestions)}." if e.suggestions else \
                "use a RunPod GPU type id (`python -m components.compat --list`)."
            problems.append(Problem("gpuTypes", f"unknown GPU type {name!r}.", fix))
    if not gpu_types and not auto:
        problems.append(Problem("gpuTypes", "no GPU type given.", "set at least one, e.g. [\"NVIDIA L40S\"]."))
    if gpu_count < 1:
        problems.append(Problem("gpuCount", f"{gpu_count} GPUs.", "use 1 or more."))
        return problems
    if auto and not problems and not auto_gpu_types(vllm_version, gpu_count, model, max_model_len):
        problems.append(Problem("gpuTypes", f"auto finds no GPU type that can serve {model} at maxModelLen "
                                f"{max_model_len} on {gpu_count} GPU(s) with vLLM {vllm_version}.",
                                "raise gpuCount, lower maxModelLen, or list GPU types instead of auto."))
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
        if cc_tuple(gpu.compute_capability) < cc_tuple(spec.min_compute_capability):
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


def _architecture_problems(vllm_version: str, gpus: Sequence[GpuType]) -> list[Problem]:
    return [Problem("vllmVersion", f"vLLM {vllm_version} images have no kernels for {gpu.id} (compute "
                    f"capability {gpu.compute_capability}).", architecture_fix(vllm_version, gpu.compute_capability))
            for gpu in gpus if not runs_on(vllm_version, gpu.compute_capability)]


def network_volume_problem(cloud: str) -> str | None:
    """Why a network volume cannot be used in `cloud` (None when it can)."""
    return None if cloud == "SECURE" else "RunPod network volumes exist only in Secure Cloud"


def gpu_problem(vllm_version: str, gpu_type_id: str, gpu_count: int, model: str, max_model_len: int) -> str | None:
    """Why one GPU type cannot serve `model` with this vLLM image (VRAM, bf16, kernels), or None when it can:
    the same rules as `check_plan`, for one candidate of the live catalog."""
    problems = [p for p in check_plan(vllm_version, [gpu_type_id], gpu_count, model, max_model_len)
                if p.setting in ("gpuTypes", "vllmVersion")]
    return problems[0].message if problems else None


def auto_gpu_types(vllm_version: str, gpu_count: int, model: str, max_model_len: int) -> tuple[str, ...]:
    """The GPU types `auto` may choose from: every known type `gpu_problem` lets through (the live catalog then
    keeps those offered now with the image's CUDA floor)."""
    return tuple(g.id for g in GPU_TYPES if gpu_problem(vllm_version, g.id, gpu_count, model, max_model_len) is None)
