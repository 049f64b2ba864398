"""Reading the live stack's config from the Pulumi engine, and the checks run before anything is registered."""

from __future__ import annotations

import os

import pulumi

from components import compat, tuning
from components.names import PROJECT
from components.settings.errors import PlanError, TuningSettingError
from components.settings.model import Secrets, Settings
from components.settings.parse import parse_settings
from components.stack_config import KEYS

__all__ = ["load_settings", "outside_pulumi", "preflight"]


def _raw_config() -> dict[str, str | None]:
    prefix = f"{PROJECT}:"
    present = {k.removeprefix(prefix) for k in pulumi.runtime.config.get_config_env() if k.startswith(prefix)}
    present |= {k.removeprefix(prefix) for k in pulumi.runtime.config.CONFIG.get() if k.startswith(prefix)}
    return {k: pulumi.runtime.get_config(prefix + k) for k in sorted(present | set(KEYS))}


def outside_pulumi() -> str | None:
    """Why the program cannot run here, or None when a Pulumi engine (or the tests' mocks) drives it: run as
    `python __main__.py`, no engine is there to read the stack's config from."""
    if pulumi.runtime.settings.get_monitor() is not None:
        return None
    return (f"{PROJECT}: this is a Pulumi program, not a script; it reads its stack's settings from the Pulumi "
            "engine. Run it with `pulumi preview` or `pulumi up` (e.g. `pulumi up -s dev`) from this directory: "
            "README.md, Quick start.")


def load_settings() -> tuple[Settings, Secrets]:
    """Read and validate the current stack's config; raises SettingsError before any resource is registered."""
    raw = _raw_config()
    settings = parse_settings(raw, pulumi.get_stack())
    return settings, Secrets(hf_token=_secret_output(raw.get("hfToken")),
                             vllm_api_key=_secret_output(raw.get("vllmApiKey")),
                             runpod_api_key=raw.get("runpodApiKey") or os.environ.get("RUNPOD_API_KEY") or None,
                             runpod_api_url=raw.get("runpodApiUrl") or os.environ.get("RUNPOD_API_URL") or None)


def _secret_output(value: str | None) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(value) if value else None


def preflight(s: Settings) -> None:
    """Before anything is registered: the timing variables of the shell that runs Pulumi (TuningSettingError),
    then the compatibility rules on the settings (PlanError, listing every problem with its fix). A vLLM
    version the table does not know passes with a warning: its floor is then read from the image."""
    try:
        tuning.check()
    except tuning.TuningError as e:
        raise TuningSettingError(f"{e}. The variable comes from the shell that runs pulumi; nothing was "
                                 "created.") from None
    if note := compat.version_note(s.vllm_version):
        pulumi.log.warn(f"{PROJECT}:vllmVersion = {s.vllm_version!r}: {note}")
    problems = compat.check_plan(s.vllm_version, s.gpu_types, s.gpu_count, s.model, s.max_model_len,
                                 s.container_disk_gb, s.has_volume)
    if problems:
        raise PlanError(problems)
