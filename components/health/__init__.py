"""Proof that the vLLM server answers: `probing` (the probe, no Pulumi), `target` (where and how to reach a
server: a pod, or a serverless endpoint), `workers` (a serverless endpoint's workers while the probe waits),
`report`, `png`, `resource` (the HealthCheck dynamic resource) and `cli` (`python -m components.health`).

Names are re-exported lazily, so the command and the probe never import Pulumi, and state written before
this layout (which names `components.health.HealthCheckProvider`) still unpickles.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "API_KEY_SETTING": "target", "Target": "target", "normalize_base_url": "target",
    "DEFAULT_REQUEST_TIMEOUT_S": "probing", "DEFAULT_TIMEOUT_S": "probing", "Polling": "probing", "probe": "probing",
    "tuning_from_env": "probing",
    "HealthReport": "report", "make_png": "png",
    "HealthCheck": "resource", "HealthCheckArgs": "resource", "HealthCheckFailed": "resource",
    "HealthCheckProvider": "resource",
    "main": "cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
