"""The layout keeps its promises: old state still loads, commands stay light, no module grows past what a
reader can hold, and no import cycle creeps in (README, Layout)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from components.health.resource import HealthCheckArgs, HealthSpec
from components.providers.image_facts import ImageFactsArgs, ImageFactsSpec
from components.providers.pod import POD_TYPE, PodArgs
from components.providers.pod_inputs import PodSpec
from components.providers.volume import VolumeArgs
from components.providers.volume_inputs import VolumeSpec
from tests.conftest import ROOT
from tests.provider_host import provider_host

COMPONENTS = ROOT / "components"
OLD_PICKLES = json.loads((ROOT / "tests" / "fixtures" / "pickled_providers.json").read_text())
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 400, 200, 50


def python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


# ---- state written before the package layout -----------------------------------------------------------------


def test_a_pod_provider_pickled_by_the_old_layout_still_runs_in_the_host() -> None:
    props = {"name": "autoglm-runpod-dev-autoglm-pod", "image": "repo@sha256:" + "0" * 64,
             "gpu_type_ids": ["NVIDIA L40S"], "min_cuda_version": "12.9",
             "__provider": OLD_PICKLES["components.pod.PodProvider"]}
    with provider_host(None, POD_TYPE) as host:
        inputs, failures = host.check(props)
        _, bad = host.check({**props, "gpu_count": 0})
    assert failures == [] and inputs["container_disk_gb"] == 80
    assert bad == [("gpu_count", "gpu_count (autoglm-runpod:gpuCount) must be a whole number ≥ 1")]


def test_a_health_provider_pickled_by_the_old_layout_still_runs_in_the_host() -> None:
    props = {"base_url": "ftp://nowhere", "served_model_name": "m",
             "__provider": OLD_PICKLES["components.health.HealthCheckProvider"]}
    with provider_host(None, "pulumi-python:dynamic/vllm:HealthCheck") as host:
        _, failures = host.check(props)
    assert [prop for prop, _ in failures] == ["base_url"]


# ---- commands and provider modules stay light -----------------------------------------------------------------


def imported_modules(*args: str) -> set[str]:
    done = python("-X", "importtime", *args)
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("command", [["-m", "components.health", "--help"], ["-m", "components.compat", "--list"]])
def test_the_commands_import_neither_pulumi_nor_requests_they_do_not_use(command: list[str]) -> None:
    modules = imported_modules(*command)
    assert "components" in modules, "the command did not run"
    assert not {m for m in modules if m.split(".")[0] == "pulumi"}
    if "compat" in command[1]:
        assert "requests" not in modules


def test_provider_modules_and_the_probe_import_without_side_effects() -> None:
    done = python("-c", "import components.providers.pod, components.health.resource, components.health.probing, "
                        "components.pod, components.health, components.providers.image_facts, components.registry, "
                        "components.providers.endpoint, components.health.workers, components.providers.volume; "
                        "print('imported')")
    assert (done.returncode, done.stdout, done.stderr) == (0, "imported\n", "")


# ---- each resource's inputs declared once ---------------------------------------------------------------------


@pytest.mark.parametrize(("args", "spec"), [(PodArgs, PodSpec), (HealthCheckArgs, HealthSpec),
                                            (ImageFactsArgs, ImageFactsSpec), (VolumeArgs, VolumeSpec)])
def test_program_args_name_exactly_the_declared_inputs(args: type, spec: type) -> None:
    assert [f.name for f in fields(args)] == [f.name for f in fields(spec)]


# ---- sizes and imports ---------------------------------------------------------------------------------------


def sources() -> list[Path]:
    return sorted(COMPONENTS.rglob("*.py"))


def test_no_module_class_or_function_grows_past_what_a_reader_holds() -> None:
    too_big = []
    for path in sources():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert too_big == []


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports at import time (module level, not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {name for name in found if name in known}


def test_no_import_cycle() -> None:
    graph = {module_name(p): p for p in sources()}
    edges = {name: imports_of(path, set(graph)) - {name} for name, path in graph.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
