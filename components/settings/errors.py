"""The errors a bad stack setting raises: Pulumi `RunError`s, so the CLI prints the message without a
traceback, naming the full key and never a secret's value."""

from __future__ import annotations

import pulumi

from components import compat
from components.names import PROJECT
from components.stack_config import SECRET_KEYS

__all__ = ["PlanError", "SettingsError", "TuningSettingError"]


class SettingsError(pulumi.RunError):
    """A bad setting: the full key, the value (never a secret's) and what is allowed."""

    def __init__(self, key: str, value: str | None, allowed: str, *, hide_value: bool = False) -> None:
        self.key = f"{PROJECT}:{key}"
        if key in SECRET_KEYS or hide_value:
            shown = "(secret)" if key in SECRET_KEYS else "(value not shown)"
        else:
            shown = "(not set)" if value is None else repr(value)
        super().__init__(f"{self.key} = {shown} is not valid: {allowed}")


class PlanError(pulumi.RunError):
    """The settings are each valid but cannot work together (compatibility rules)."""

    def __init__(self, problems: list[compat.Problem]) -> None:
        self.problems = problems
        lines = [f"- {PROJECT}:{p.setting}: {p.message} Fix: {p.fix}" for p in problems]
        super().__init__("this stack's settings cannot work; nothing was created:\n" + "\n".join(lines))


class TuningSettingError(pulumi.RunError):
    """A timing variable (components/tuning.py) the providers would only fail on in the middle of a wait."""
