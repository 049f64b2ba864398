"""Reading one raw config value: each reader returns the parsed value or raises `SettingsError` naming the key.

`Raw` wraps the stack's raw config strings (keys without the project prefix; absent means unset), so a group
of settings reads its keys with `raw.text("model")`, `raw.whole("gpuCount")`, ... and the rules stay one each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from components import setting_rules
from components.settings.errors import SettingsError
from components.stack_config import DEFAULTS

__all__ = ["Raw", "pattern"]


def pattern(regex: re.Pattern[str], allowed: str) -> Callable[[str], str | None]:
    """A rule from a regular expression: None when it matches, else what is allowed."""
    return lambda value: None if regex.match(value) else allowed


@dataclass(frozen=True)
class Raw:
    values: Mapping[str, str | None]

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def is_set(self, key: str) -> bool:
        return self.values.get(key) is not None

    def text(self, key: str) -> str | None:
        """The value without surrounding spaces; None when unset; an empty value is refused."""
        raw = self.values.get(key)
        if raw is None:
            return None
        value = raw.strip()
        if not value:
            raise SettingsError(key, raw, f"it is empty; remove it (`pulumi config rm {key}`) or give a value.")
        return value

    def differs_from_default(self, key: str) -> bool:
        """Set to something other than its default. The CLI fills in schema defaults, so a key at its default is
        no sign the user set it."""
        value = self.text(key)
        default = DEFAULTS.get(key)
        if value is None or default is None:
            return value is not None
        if isinstance(default, bool):
            return value.lower() != str(default).lower()
        if isinstance(default, int):
            return not value.isdigit() or int(value) != default
        return value.upper() != str(default).upper()

    def checked(self, key: str, rule: Callable[[str], str | None]) -> str | None:
        """`text(key)`, refused when `rule` says what is wrong with it."""
        value = self.text(key)
        if value is not None and (problem := rule(value)):
            raise SettingsError(key, self.values.get(key), problem + ".")
        return value

    def whole(self, key: str, default: int | None = None) -> int:
        """A whole number within the key's bounds (components/setting_rules.py), else its default."""
        raw = self.text(key)
        try:
            return setting_rules.whole_number(key, raw if raw is not None else str(DEFAULTS.get(key, default)))
        except ValueError as e:
            raise SettingsError(key, self.values.get(key), f"{e}.") from None

    def flag(self, key: str) -> bool:
        """true or false, else its default."""
        raw = self.text(key)
        if raw is None:
            return bool(DEFAULTS[key])
        if raw.lower() not in ("true", "false"):
            raise SettingsError(key, self.values.get(key), "expected true or false.")
        return raw.lower() == "true"

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """One of `allowed` (case-insensitive), else its default."""
        value = (self.text(key) or str(DEFAULTS[key])).upper()
        if value not in allowed:
            raise SettingsError(key, self.values.get(key), f"expected {' or '.join(allowed)}.")
        return value

    def dollars(self, key: str) -> float | None:
        """US dollars, above 0 and at most 1000; None when unset."""
        raw = self.text(key)
        if raw is None:
            return None
        try:
            return setting_rules.dollars_per_hour(raw)
        except ValueError as e:
            raise SettingsError(key, raw, f"{e}.") from None
