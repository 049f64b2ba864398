"""Pulumi.yaml's config schema, the settings module and the README's configuration table say the same thing."""

from __future__ import annotations

import re
from typing import Any

import yaml

from components.settings import DEFAULTS, KEYS, SECRET_KEYS
from tests.conftest import ROOT

SCHEMA_TYPES = {"string", "integer", "boolean", "array"}


def project() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return doc


def test_project_runtime() -> None:
    doc = project()
    assert doc["name"] == "autoglm-runpod" and doc["description"]
    assert doc["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


def test_schema_has_every_setting_and_no_other() -> None:
    assert set(project()["config"]) == set(KEYS)


def test_schema_entries_are_typed_described_and_defaulted_like_the_settings() -> None:
    for key, entry in project()["config"].items():
        assert entry["type"] in SCHEMA_TYPES, key
        assert entry.get("description"), key
        if entry["type"] == "array":
            assert entry["items"] == {"type": "string"}, key
        if key in DEFAULTS:
            assert entry.get("default") == DEFAULTS[key], key
        else:
            assert "default" not in entry, key
        assert bool(entry.get("secret")) is (key in SECRET_KEYS), key


def readme_settings_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Za-z]+)` \|([^|]*)\|([^|]*)\|", section, flags=re.M)
    return {key: default.strip() for key, _type, default in rows}


def test_readme_configuration_table_lists_every_setting_with_its_default() -> None:
    table = readme_settings_table()
    assert set(table) == set(KEYS)
    for key, default in DEFAULTS.items():
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert f"`{shown}`" in table[key], (key, table[key])


# Example repositories as the docs and messages spell them: `docker.io/yourname/autoglm-vllm` and the like.
EXAMPLE_REPOSITORY = re.compile(r"\b(?:docker\.io|ghcr\.io)/[A-Za-z0-9_.<>-]+/autoglm-vllm\b")


def test_every_example_image_repository_is_one_the_setting_accepts() -> None:
    from components.image_ref import validate_image_repository

    files = [ROOT / "README.md", ROOT / "Pulumi.yaml", ROOT / "Pulumi.dev.yaml",
             *sorted((ROOT / "components").rglob("*.py"))]
    examples = {(path.name, found) for path in files for found in EXAMPLE_REPOSITORY.findall(path.read_text())}
    assert {name for name, _ in examples} >= {"README.md", "Pulumi.yaml", "Pulumi.dev.yaml", "parse.py"}
    assert [(name, found, validate_image_repository(found)) for name, found in examples
            if validate_image_repository(found)] == []
