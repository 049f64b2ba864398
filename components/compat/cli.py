"""`python -m components.compat`: the compatibility verdict for a vLLM version, GPU types and a model; or, for a
vLLM version alone, what its images are (tags, CUDA floor, driver, architectures, transformers, GPU types); or,
with `--live`, the GPU types a pod create would try now, ranked from RunPod's catalog (compat/live.py).

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
from components.compat import live
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
    "maxCostPerHour": setting_rules.dollars_per_hour,
    "modelCacheDataCenter": setting_rules.data_center,
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
    p.add_argument("--vllm", type=_as("vllmVersion"),
                   help=f"vllm/vllm-openai version or tag such as 0.21.0-cu129, with or without its v (default "
                        f"{DEFAULTS['vllmVersion']}); without --gpu, explains that release's images")
    p.add_argument("--gpu", action="append", default=[], metavar="GPU",
                   help="RunPod GPU type id or alias, e.g. L40S; repeat for several, in order of preference; "
                        "auto (last) adds every other type that fits")
    p.add_argument("--gpu-count", type=_as("gpuCount"), default=DEFAULTS["gpuCount"], metavar="N",
                   help=f"GPUs per pod, {_bounds('gpuCount')}; more than one splits the model across them "
                        "(default %(default)s)")
    p.add_argument("--model", default=DEFAULTS["model"], type=_as("model"),
                   help="Hugging Face model id (default %(default)s)")
    p.add_argument("--max-model-len", type=_as("maxModelLen"), default=DEFAULTS["maxModelLen"], metavar="TOKENS",
                   help=f"vLLM's context length in tokens, {_bounds('maxModelLen')}; it sets the VRAM needed "
                        "(default %(default)s)")
    p.add_argument("--live", action="store_true",
                   help="rank the GPU types a pod create would try now from RunPod's catalog (RUNPOD_API_KEY; "
                        "--gpu defaults to auto)")
    p.add_argument("--cloud", choices=("SECURE", "COMMUNITY"), default=DEFAULTS["cloud"], help="with --live")
    p.add_argument("--max-cost-per-hour", type=_as("maxCostPerHour"), metavar="USD",
                   help="with --live: the budget, as maxCostPerHour")
    p.add_argument("--data-center", type=_as("modelCacheDataCenter"), metavar="DC",
                   help="with --live: only types free there (where a model cache volume is)")
    p.add_argument("--all", action="store_true", help="with --live: also list every catalog type left out, and why")
    p.add_argument("--list", action="store_true", help="list the known GPU types and exit")
    p.add_argument("--releases", action="store_true", help="list every vLLM release the table knows, with its tags")
    return p


def _print_gpu_list(out: TextIO) -> None:
    out.write(f"{'RunPod GPU type id':46} {'VRAM':>5}  {'CC':>4}  aliases\n")
    for g in compat.GPU_TYPES:
        out.write(f"{g.id:46} {g.vram_gb:>3}GB  {g.compute_capability:>4}  {', '.join(g.aliases)}\n")


def _print_releases(out: TextIO) -> None:
    for release in compat.RELEASES:
        tags = ", ".join(f"{t.tag} (CUDA {t.floor.cuda})" for t in compat.published_tags(release))
        out.write(f"{release:8} {tags}\n")


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    """A release's images: its tags with floor and driver, architectures, transformers, the GPU types that fit."""
    version, _ = compat.split_tag(args.vllm)
    assumed = "" if compat.is_known(version) else " (not in the table: assumed, and read from the image at up)"
    out.write(f"vLLM {version}: vllm/vllm-openai tags{assumed}\n")
    out.write(f"  {'tag':26} {'CUDA':8} {'host CUDA ≥':12} {'driver ≥':10} Ubuntu\n")
    for t in compat.published_tags(version):
        out.write(f"  {t.tag:26} {t.family.cuda:8} {t.floor.cuda:12} {t.floor.min_driver:10} {t.family.ubuntu:6} "
                  f"{t.family.about}".rstrip() + "\n")
    out.write(f"GPU architectures (compute capability): {' '.join(compat.architectures(version))}\n")
    pin = compat.transformers_pin(version)
    if pin is not None:
        carried = "already carries transformers 5: the build adds nothing" if compat.ships_transformers_5(version) \
            else "has transformers 4: the build installs transformers 5 over it, as Open-AutoGLM prescribes"
        out.write(f"transformers: vLLM {version} requires transformers{pin}; its image {carried}.\n")
    spec = compat.model_spec(args.model)
    candidates = compat.gpu_types_that_fit(spec, args.max_model_len, args.gpu_count) if spec else compat.GPU_TYPES
    fit = [g.id for g in candidates if compat.runs_on(version, g.compute_capability)]
    what = f"{args.model} at {args.max_model_len} tokens" if spec else "this image (model not checked)"
    out.write(f"GPU types that fit {what} on {args.gpu_count} GPU(s): {', '.join(fit) or 'none'}\n")
    problems = [p for p in compat.check_plan(args.vllm, fit, args.gpu_count, args.model, args.max_model_len)
                if fit or p.setting != "gpuTypes"]
    if not fit:
        problems.append(compat.Problem("gpuTypes", f"no GPU type this stack knows fits {what} with vLLM {version}.",
                                       "raise --gpu-count, lower --max-model-len or choose another vLLM version."))
    return _report(problems, out, ok="")


def _verdict(args: argparse.Namespace, out: TextIO) -> int:
    floor = compat.cuda_floor(args.vllm)
    out.write(f"vllm/vllm-openai:v{args.vllm} needs a host with CUDA ≥ {floor.cuda} "
              f"(NVIDIA driver ≥ {floor.min_driver}); the pod requests it with gpu.minCudaVersion={floor.cuda}.\n")
    spec = compat.model_spec(args.model)
    if spec is None:
        out.write(f"{args.model}: no figures known for this model; VRAM fit not checked.\n")
    for name in args.gpu:
        if name == compat.AUTO:
            listed = {g for g in args.gpu if g != compat.AUTO}
            fit = [g for g in compat.auto_gpu_types(args.vllm, args.gpu_count, args.model, args.max_model_len)
                   if g not in listed]
            out.write(f"auto: every other type that fits, ranked by RunPod's catalog at `pulumi up` (see --live): "
                      f"{', '.join(fit) or 'none'}\n")
            continue
        gpu = compat.resolve_gpu_type(name)
        line = f"{gpu.id}: {gpu.vram_gb} GB × {args.gpu_count}, compute capability {gpu.compute_capability}"
        if spec is not None:
            line += (f"; needs ~{compat.vram_needed_gib(spec, args.max_model_len):.1f} GiB, "
                     f"vLLM may use {compat.vram_budget_gib(gpu, args.gpu_count):.1f} GiB")
        out.write(line + "\n")
    problems = compat.check_plan(args.vllm, args.gpu, args.gpu_count, args.model, args.max_model_len)
    return _report(problems, out, ok="OK: this combination can work.\n")


def _report(problems: list[compat.Problem], out: TextIO, ok: str) -> int:
    if not problems:
        out.write(ok)
        return 0
    out.write("CANNOT WORK:\n")
    for p in problems:
        out.write(f"  - {p.setting}: {p.message}\n    fix: {p.fix}\n")
    return 1


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on bad usage, 0 on --help
        return int(e.code or 0)
    if args.list or args.releases:
        (_print_gpu_list if args.list else _print_releases)(out)
        return 0
    explain = args.vllm is not None and not args.gpu and not args.live
    args.vllm = args.vllm or DEFAULTS["vllmVersion"]
    if args.live and not args.gpu:
        args.gpu = [compat.AUTO]
    if not args.gpu and not explain:
        parser.print_usage(sys.stderr)
        sys.stderr.write("error: give at least one --gpu (see --list), or --vllm alone to explain a release\n")
        return 2
    wanted = _wanted(args.gpu)
    if wanted is None:
        return 2
    args.gpu = wanted  # resolved once: RunPod ids, and `auto` however it was spelled
    if note := compat.version_note(args.vllm):
        out.write(f"note: {note}\n")
    if args.live:
        return live.rank(args, wanted, out)
    return _explain(args, out) if explain else _verdict(args, out)


def _wanted(names: list[str]) -> list[str] | None:
    """The --gpu values as RunPod ids (auto, last, stays); None after saying what is wrong."""
    wanted: list[str] = []
    for position, name in enumerate(names, start=1):
        if name.strip().lower() == compat.AUTO:
            if position != len(names):
                sys.stderr.write("error: --gpu auto may only come last\n")
                return None
            wanted.append(compat.AUTO)
            continue
        try:
            wanted.append(compat.resolve_gpu_type(name).id)
        except compat.UnknownGpuType as e:
            sys.stderr.write(f"error: --gpu: {e}\n")
            return None
    return list(dict.fromkeys(wanted))
