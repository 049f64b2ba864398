"""What a preview costs: `__main__.py` evaluated under Pulumi mocks per stack, and the provider modules' import time.

Targets: program evaluation ≤ 1.5 s per stack; importing a provider module ≤ 0.3 s. The import is what the
provider host pays to unpickle the provider before its first call: measured in a fresh interpreter on top of
`pulumi.dynamic`, which the host has loaded already (itself ~0.3 s of grpc and protobuf, not ours to shrink).
Medians of several runs.

    python -m bench.bench_program [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import runpy
import statistics
import subprocess
import sys
import time
from typing import Any

import pulumi

from tests.conftest import ROOT, committed_stack_config, configure_mocks, stack_exports

PROGRAM_TARGET_S = 1.5
IMPORT_TARGET_S = 0.3
PROVIDER_MODULES = ("components.providers.pod", "components.health.resource", "components.providers.image_facts",
                    "components.providers.volume")
STACKS: dict[str, dict[str, Any]] = {
    "dev": {"imageRepository": "ghcr.io/acme/autoglm-vllm"},
    "prod": {},
}
DEV_OUTPUTS = {"organization/autoglm-runpod/dev": {
    "verified_image_ref": "ghcr.io/acme/autoglm-vllm@sha256:" + "0" * 64, "vllm_version": "0.12.0"}}


def evaluate(stack: str) -> float:
    """Seconds to run the program once as a preview does: settings, preflight, every registration."""
    mocks = configure_mocks(stack, committed_stack_config(stack) | STACKS[stack], preview=True)
    mocks.stack_outputs = DEV_OUTPUTS
    started = time.perf_counter()

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(*stack_exports().values())

    run()
    return time.perf_counter() - started


def import_time(module: str) -> float:
    code = f"import pulumi.dynamic, time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, float] = {}
    for stack in STACKS:
        evaluate(stack)  # warm: the first run pays for imports
        results[f"program[{stack}]"] = statistics.median(evaluate(stack) for _ in range(args.runs))
    for module in PROVIDER_MODULES:
        results[f"import[{module}]"] = statistics.median(import_time(module) for _ in range(args.runs))
    ok = True
    for name, seconds in results.items():
        target = PROGRAM_TARGET_S if name.startswith("program") else IMPORT_TARGET_S
        ok &= seconds <= target
        print(f"{name:32} {seconds:7.3f} s  (target ≤ {target} s) {'ok' if seconds <= target else 'SLOW'}")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
