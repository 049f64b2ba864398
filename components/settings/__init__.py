"""Typed, validated stack settings read from Pulumi config (namespace `autoglm-runpod`).

`parse_settings` is pure: raw config strings in, an immutable `Settings` out, or a `SettingsError` that names
the full key, the value (never a secret's) and what is allowed. `load_settings` reads the live Pulumi config;
`preflight` runs the compatibility rules before anything is registered. Modules: `errors`, `values` (reading one
value), `keys` (known and secret keys), `model` (the dataclasses), `parse` (one reader per group of keys and
the rules between keys), `load` (the engine side). The keys, defaults and secret keys themselves are in
`components/stack_config.py` (no Pulumi import, for the commands).
"""

from components.settings.errors import PlanError, SettingsError, TuningSettingError
from components.settings.keys import check_keys
from components.settings.load import load_settings, outside_pulumi, preflight
from components.settings.model import Cloud, Secrets, Settings
from components.settings.parse import parse_settings
from components.stack_config import DEFAULTS, KEYS, SECRET_KEYS

__all__ = ["DEFAULTS", "KEYS", "SECRET_KEYS", "Cloud", "PlanError", "Secrets", "Settings", "SettingsError",
           "TuningSettingError", "check_keys", "load_settings", "outside_pulumi", "parse_settings", "preflight"]
