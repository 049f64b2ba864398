"""`python -m components.compat`: the compatibility verdict for a vLLM version, GPU types and a model.

Exit 0 when the plan can work, 1 when it cannot, 2 on bad usage. Each flag takes exactly what its stack setting
takes (`components.setting_rules`), so "OK" here is never refused by `pulumi preview`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import TextIO

from components import compat, setting_rules
from components.stack_config import DEFAULTS


def _model_id(text: str) -> str:
    if problem := setting_rules.model_id_problem(text):
        raise ValueError(problem)
    return text


# Each flag's stack setting and the rule that setting applies.
_RULES: dict[str, Callable[[str], object]] = {
    "vllmVersion": setting_rules.vllm_version,
    "gpuCount": partial(setting_rules.whole_number, "gpuCount"),
    "model": _model_id,
    "maxModelLen": partial(setting_rules.whole_number, "maxModelLen"),
}


def _as(key: str) -> Callable[[str], object]:
    """An argparse type applying the `key` setting's rule: a refused value names only its own flag."""
    def parse(text: str) -> object:
        try:
            return _RULES[key](text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{e} (as the {key} setting)") from None
    return parse


def _bounds(key: str) -> str:
    low, high = setting_rules.BOUNDS[key]
    return f"{low}–{high}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.compat",
                                description="Can this vLLM image serve this model on these RunPod GPU types?")
    p.add_argument("--vllm", default=DEFAULTS["vllmVersion"], type=_as("vllmVersion"),
                   help="vllm/vllm-openai version, with or without its v (default %(default)s)")
    p.add_argument("--gpu", action="append", default=[], metavar="GPU",
                   help="RunPod GPU type id or alias, e.g. L40S; repeat for several, in order of preference")
    p.add_argument("--gpu-count", type=_as("gpuCount"), default=DEFAULTS["gpuCount"], metavar="N",
                   help=f"GPUs per pod, {_bounds('gpuCount')}; more than one splits the model across them "
                        "(default %(default)s)")
    p.add_argument("--model", default=DEFAULTS["model"], type=_as("model"),
                   help="Hugging Face model id (default %(default)s)")
    p.add_argument("--max-model-len", type=_as("maxModelLen"), default=DEFAULTS["maxModelLen"], metavar="TOKENS",
                   help=f"vLLM's context length in tokens, {_bounds('maxModelLen')}; it sets the VRAM needed "
                        "(default %(default)s)")
    p.add_argument("--list", action="store_true", help="list the known GPU types and exit")
    return p


def _print_gpu_list(out: TextIO) -> None:
    out.write(f"{'RunPod GPU type id':46} {'VRAM':>5}  {'CC':>4}  aliases\n")
    for g in compat.GPU_TYPES:
        out.write(f"{g.id:46} {g.vram_gb:>3}GB  {g.compute_capability:>4}  {', '.join(g.aliases)}\n")


def _verdict(args: argparse.Namespace, out: TextIO) -> int:
    floor = compat.cuda_floor(args.vllm)
    out.write(f"vllm/vllm-openai:v{args.vllm} needs a host with CUDA ≥ {floor.cuda} "
              f"(NVIDIA driver ≥ {floor.min_driver}); the pod requests it with gpu.minCudaVersion={floor.cuda}.\n")
    spec = compat.model_spec(args.model)
    if spec is None:
        out.write(f"{args.model}: no figures known for this model; VRAM fit not checked.\n")
    for name in args.gpu:
        gpu = compat.resolve_gpu_type(name)
        line = f"{gpu.id}: {gpu.vram_gb} GB × {args.gpu_count}, compute capability {gpu.compute_capability}"
        if spec is not None:
            line += (f"; needs ~{compat.vram_needed_gib(spec, args.max_model_len):.1f} GiB, "
                     f"vLLM may use {compat.vram_budget_gib(gpu, args.gpu_count):.1f} GiB")
        out.write(line + "\n")
    problems = compat.check_plan(args.vllm, args.gpu, args.gpu_count, args.model, args.max_model_len)
    if problems:
        out.write("CANNOT WORK:\n")
        for p in problems:
            out.write(f"  - {p.setting}: {p.message}\n    fix: {p.fix}\n")
        return 1
    out.write("OK: this combination can work.\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on bad usage, 0 on --help
        return int(e.code or 0)
    if args.list:
        _print_gpu_list(out)
        return 0
    if not args.gpu:
        parser.print_usage(sys.stderr)
        sys.stderr.write("error: give at least one --gpu (see --list)\n")
        return 2
    for name in args.gpu:
        try:
            compat.resolve_gpu_type(name)
        except compat.UnknownGpuType as e:
            sys.stderr.write(f"error: --gpu: {e}\n")
            return 2
    return _verdict(args, out)
