"""Value rules that the stack's settings and the commands both apply, so `python -m components.compat` accepts
exactly what `pulumi preview` accepts. No Pulumi import. Each rule returns the parsed value or raises ValueError
whose message says what is allowed; the settings name the config key, the commands the flag.
"""

from __future__ import annotations

import re

from components.compat.releases import split_tag

__all__ = ["BOUNDS", "DATA_CENTER_ID", "data_center", "dollars_per_hour", "model_id_problem", "vllm_version",
           "whole_number"]

# Whole-number settings and their inclusive bounds.
BOUNDS: dict[str, tuple[int, int]] = {
    "gpuCount": (1, 8),  # RunPod's largest pods have 8 GPUs
    "maxModelLen": (256, 1_048_576),  # below 256 tokens not even the chat template and a screenshot fit
    "containerDiskGb": (10, 4000),
    "healthTimeoutMinutes": (1, 180),
    # Serverless: RunPod's worker quota grows with the account's balance (5 by default, 60 from $900).
    "workersMin": (0, 100),
    "workersMax": (1, 100),  # 0 would leave the endpoint unable to serve (and the health check to pass)
    "idleTimeoutSeconds": (1, 3600),  # the API's bounds of workers.idleTimeout
    "requestsPerWorker": (1, 1000),  # REQUEST_COUNT scaling: in-flight requests per worker, at least 1
    "modelCacheGb": (10, 4096),  # RunPod's network volume sizes (larger: contact RunPod)
}

# RunPod data center ids (EU-RO-1, US-TX-3, EUR-IS-1), upper case: lowercase ones are accepted by the API but
# break RunPod in several ways (dstack's finding, ../shared/research/runpod-scale.md c.2).
DATA_CENTER_ID = re.compile(r"^[A-Z]{2,4}-[A-Z]{2,4}-\d{1,3}$")
MAX_DOLLARS_PER_HOUR = 1000.0

_HF_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def whole_number(key: str, raw: str) -> int:
    """`raw` as the whole-number setting `key` takes it."""
    low, high = BOUNDS[key]
    try:
        value = int(raw.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValueError(f"expected a whole number from {low} to {high}")
    return value


def dollars_per_hour(raw: str) -> float:
    """US dollars per hour, above 0 and at most 1000 (`maxCostPerHour`)."""
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_DOLLARS_PER_HOUR:
        raise ValueError(f"expected US dollars per hour, a number above 0 and at most {MAX_DOLLARS_PER_HOUR:g} "
                         "(e.g. 1.50)")
    return value


def data_center(raw: str) -> str:
    """A RunPod data center id (`EU-RO-1`), in the upper case RunPod needs."""
    value = raw.strip()
    if DATA_CENTER_ID.match(value):
        return value
    hint = f" Did you mean {value.upper()!r}?" if DATA_CENTER_ID.match(value.upper()) else ""
    raise ValueError("expected a RunPod data center id in upper case such as EU-RO-1 or US-TX-3 (RunPod's console "
                     f"lists them).{hint}")


def model_id_problem(model: str) -> str | None:
    """None for a Hugging Face model id (`OWNER/NAME`), else what is expected."""
    return None if _HF_MODEL_RE.match(model) else "expected a Hugging Face id like OWNER/NAME"


def vllm_version(raw: str) -> str:
    """A vllm/vllm-openai version or tag as the image tag has it without its `v`: `v0.12.0` → `0.12.0`,
    `0.21.0-cu129` stays. Whether that tag exists for the release is the compatibility rules' question."""
    version = raw.strip().removeprefix("v")
    try:
        split_tag(version)
    except ValueError:
        raise ValueError("expected a vllm/vllm-openai version such as 0.12.0, or a tag such as 0.21.0-cu129") from None
    return version
