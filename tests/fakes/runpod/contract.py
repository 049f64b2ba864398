"""Request bodies checked against RunPod's published contract, `openapi-v2.json` (a copy beside this module:
tests read nothing outside the repository).

The spec is OpenAPI 3.1, whose schemas are JSON Schema 2020-12: `jsonschema` validates a body against a
component schema (`CreatePodRequest`, `UpdatePodRequest`, `PodActionRequest`, ...) with every `$ref`, `allOf`,
`if`/`then` and `unevaluatedProperties` resolved inside the document. Violations answer 422 problem+json with
one `errors` entry each, worded as RunPod's own example (`$: additional properties 'bogus' not allowed`).

One quirk of 2020-12 is smoothed over: a property that fails its own schema makes its `allOf` branch fail,
which discards that branch's annotations, so `unevaluatedProperties` then also calls every sibling property
"unevaluated". Only names that no branch declares are reported as unknown.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import jsonschema

from tests.fakes.runpod.problem import Problem

__all__ = ["SPEC_PATH", "check_body", "contract_errors", "spec"]

SPEC_PATH = Path(__file__).with_name("openapi-v2.json")
_UNKNOWN = ("additionalProperties", "unevaluatedProperties")


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@functools.cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    components = spec()["components"]
    if schema_name not in components["schemas"]:
        raise KeyError(f"openapi-v2.json has no schema {schema_name!r}")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    return jsonschema.Draft202012Validator(root)


def contract_errors(schema_name: str, body: Any) -> list[str]:
    """Every violation of the named component schema, as RunPod words them; [] when the body conforms."""
    found = sorted(_validator(schema_name).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    messages: list[str] = []
    for error in found:
        for message in _messages(error):
            if message not in messages:
                messages.append(message)
    return messages


def check_body(schema_name: str, body: Any) -> None:
    """Raise a 422 `Problem` listing the violations, as RunPod does before any other rule runs."""
    errors = contract_errors(schema_name, body)
    if errors:
        raise Problem(422, "Request validation failed.", errors)


def _messages(error: jsonschema.ValidationError) -> Iterator[str]:
    where = _where(error.absolute_path)
    kind, value = error.validator, cast(Any, error.validator_value)
    if kind in _UNKNOWN:
        unknown = _undeclared(error)
        if unknown:
            yield f"{where}: additional properties {', '.join(repr(k) for k in unknown)} not allowed"
    elif kind == "required":
        missing = [k for k in value if isinstance(error.instance, dict) and k not in error.instance]
        yield from (f"{where}: missing required property '{k}'" for k in missing)
    elif kind == "type":
        allowed = [value] if isinstance(value, str) else list(value)
        yield f"{where}: expected {' or '.join(allowed)}"
    elif kind == "enum":
        yield f"{where}: value must be one of {', '.join(map(repr, value))}"
    elif kind in ("minimum", "maximum"):
        yield f"{where}: expected number {'>=' if kind == 'minimum' else '<='} {value}"
    elif kind == "minLength":
        yield f"{where}: expected length >= {value}"
    elif kind == "pattern":
        yield f"{where}: expected string to match pattern {value}"
    elif kind == "maxItems":
        yield f"{where}: expected at most {value} items"
    elif kind not in ("allOf", "$ref", "if", "then"):  # those only wrap the errors reported on their own
        yield f"{where}: {error.message}"


def _where(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _undeclared(error: jsonschema.ValidationError) -> list[str]:
    """The instance's keys that no branch of the failing schema declares (see the module docstring)."""
    if not isinstance(error.instance, dict):
        return []
    declared = set(_declared(error.schema)) if isinstance(error.schema, Mapping) else set()
    return [k for k in error.instance if k not in declared]


def _declared(schema: Mapping[str, Any], depth: int = 0) -> Iterator[str]:
    """Property names a schema declares, through `$ref` and `allOf` (as `unevaluatedProperties` counts them)."""
    if depth > 20:
        return
    if "$ref" in schema:
        yield from _declared(_resolve(schema["$ref"]), depth + 1)
    yield from schema.get("properties", {})
    for branch in schema.get("allOf", []):
        yield from _declared(branch, depth + 1)


def _resolve(ref: str) -> Mapping[str, Any]:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node
