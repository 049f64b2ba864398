"""The value checks the RunPod resources' inputs share (a pod's and an endpoint's container, CUDA floor, name,
budget), each returning why a raw value is bad, or None. No I/O; see components/providers/schema.py for how a
spec field carries them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from components.names import MAX_NAME
from components.providers.schema import is_unknown

__all__ = [
    "at_least",
    "check_args",
    "check_cuda",
    "check_env",
    "check_ids",
    "check_image",
    "check_max_cost",
    "check_name",
    "check_one_of",
    "check_optional_text",
    "check_ports",
    "check_positive_int",
    "env_map",
    "is_whole",
]

_CUDA = re.compile(r"^\d+\.\d+$")
_PORT = re.compile(r"^(\d{1,5})/(http|tcp)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_whole(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def at_least(low: int, high: int | None = None) -> Callable[[Any], str | None]:
    """A whole number from `low` (to `high`, when given)."""
    allowed = f"a whole number ≥ {low}" if high is None else f"a whole number from {low} to {high}"

    def check(v: Any) -> str | None:
        return None if is_whole(v) and v >= low and (high is None or v <= high) else f"must be {allowed}"
    return check


check_positive_int = at_least(1)


def check_ids(what: str, example: str, *, distinct: bool = False, non_empty: bool = False,
              refused: str | None = None) -> Callable[[Any], str | None]:
    """A list of non-empty id strings (`what`, like `example`): `distinct`, `non_empty`, and without `refused`
    when those are asked for."""
    wanted = f"must list {'one or more ' if non_empty else ''}{'distinct ' if distinct else ''}{what}, e.g. {example}"

    def check(v: Any) -> str | None:
        ok = (isinstance(v, list | tuple) and all(isinstance(i, str) and i.strip() and i != refused for i in v)
              and (not distinct or len(set(v)) == len(v)) and (not non_empty or bool(v)))
        return None if ok else wanted
    return check


def check_max_cost(v: Any) -> str | None:
    if v is None or (isinstance(v, int | float) and not isinstance(v, bool) and v > 0):
        return None
    return "must be a positive number of USD per hour when set"


def check_one_of(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be {' or '.join(allowed)}"


def check_name(v: Any) -> str | None:
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_NAME:
        return f"must be 1–{MAX_NAME} characters (RunPod's limit); use components.names.resource_name"
    return None


def check_image(v: Any) -> str | None:
    if not isinstance(v, str) or not v or any(c.isspace() for c in v):
        return "must be an image reference without spaces, e.g. docker.io/vllm/vllm-openai:v0.11.0"
    return None


def check_cuda(v: Any) -> str | None:
    if not isinstance(v, str) or not _CUDA.match(v):
        return 'must be a CUDA version as major.minor, e.g. "12.9"'
    return None


def check_ports(v: Any) -> str | None:
    if not isinstance(v, list | tuple) or not v:
        return 'must list ports as "port/proto", e.g. ["8000/http"]'
    for port in v:
        m = _PORT.match(port) if isinstance(port, str) else None
        if m is None or not 1 <= int(m.group(1)) <= 65535:
            return f'has {port!r}: each port must be "port/http" or "port/tcp" with port 1–65535'
    if len(set(v)) != len(v):
        return "lists a port twice"
    if not any(p.endswith("/http") for p in v):
        return 'needs an HTTP port for the endpoint URL, e.g. "8000/http"'
    return None


def check_env(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be a map of variable names to strings"
    for key, value in v.items():
        if not _ENV_NAME.match(key):
            return f"has {key!r}: variable names are letters, digits and _, not starting with a digit"
        if not (isinstance(value, str) or is_unknown(value)):
            return f"{key} must be a string"
    return None


def check_optional_text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and v.strip()) else "must be a non-empty string when set"


def check_args(v: Any) -> str | None:
    return None if v is None or isinstance(v, str) else "must be a string (passed to the image's ENTRYPOINT)"


def env_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}
