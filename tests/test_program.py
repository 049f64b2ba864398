"""`__main__.py` under Pulumi mocks, with the dev and prod stack files as committed.

What the program registers for each stack is in test_service.py (which also starts from the committed files);
here: what the committed files are, and that bad settings stop the program before anything is registered."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from typing import Any

import pytest

from components.settings import PlanError, SettingsError
from tests.conftest import ROOT, committed_stack_config, configure_mocks

DEV_EXTRA = {"imageRepository": "ghcr.io/acme/autoglm-vllm"}


def run_program() -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def test_committed_stack_files_hold_no_secret_values() -> None:
    for stack in ("dev", "prod"):
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        assert "secure:" not in text and "apiKey" not in text and "Token" not in text


def test_dev_as_committed_asks_for_the_image_repository() -> None:
    configure_mocks("dev", committed_stack_config("dev"))
    with pytest.raises(SettingsError, match=r"autoglm-runpod:imageRepository = \(not set\)"):
        run_program()


def test_incompatible_plan_stops_before_any_resource() -> None:
    mocks = configure_mocks("dev", committed_stack_config("dev") | DEV_EXTRA | {"gpuTypes": ["RTX 4090"]})
    with pytest.raises(PlanError, match=r"autoglm-runpod:gpuTypes: .*RTX 4090.*not enough VRAM"):
        run_program()
    assert [r for r in mocks.resources if r.typ != "pulumi:pulumi:Stack"] == []


def test_run_as_a_script_it_says_to_run_it_with_pulumi() -> None:
    """`python __main__.py` has no engine to read the stack's config from: not "gpuTypes not set"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    done = subprocess.run([sys.executable, "__main__.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("autoglm-runpod: this is a Pulumi program, not a script")
    assert "`pulumi up -s dev`" in done.stderr and "README.md, Quick start" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and "gpuTypes" not in done.stderr
