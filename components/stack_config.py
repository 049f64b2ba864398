"""The stack's config keys: which exist, their defaults, which are secret. No Pulumi import, so the commands
(`python -m components.compat`) share the defaults without paying for Pulumi.

Pulumi.yaml's config schema says the same (a test keeps them in sync): the CLI applies the schema's
defaults, but a program under test or an older CLI does not, so the program applies these itself.
"""

from __future__ import annotations

from typing import Any

from components.names import setting

__all__ = ["DEFAULTS", "KEYS", "RUNPOD_KEY_FROM", "RUNPOD_KEY_MISSING", "RUNPOD_URL_FROM", "SECRET_KEYS"]

# Where the stack's RunPod key and API URL come from, as messages name them (the providers read both; the
# commands read the environment, into which users export the config value).
RUNPOD_KEY_FROM = f"RUNPOD_API_KEY or {setting('runpodApiKey')}"
RUNPOD_URL_FROM = f"RUNPOD_API_URL or {setting('runpodApiUrl')}"
RUNPOD_KEY_MISSING = "set it with `pulumi config set --secret runpodApiKey ...` or export RUNPOD_API_KEY"

DEFAULTS: dict[str, Any] = {
    "gpuCount": 1,
    "cloud": "SECURE",
    "vllmVersion": "0.12.0",
    "model": "zai-org/AutoGLM-Phone-9B",
    "servedModelName": "autoglm-phone-9b",
    "maxModelLen": 25480,
    "healthTimeoutMinutes": 20,
    "publicEndpoint": False,
    "running": True,
    "deployment": "pod",
    "workersMin": 0,
    "workersMax": 2,
    "idleTimeoutSeconds": 300,
    "requestsPerWorker": 4,
    "flashboot": True,
    "modelCacheType": "STANDARD",
    "retainModelCache": False,
}

SECRET_KEYS: tuple[str, ...] = ("runpodApiKey", "hfToken", "vllmApiKey")

# Every key the stack reads; anything else under the project's namespace is a typo worth stopping for.
KEYS: tuple[str, ...] = (
    "gpuTypes", "gpuCount", "cloud", "vllmVersion", "model", "servedModelName", "maxModelLen",
    "containerDiskGb", "networkVolumeId", "imageRepository", "image", "registryAuthId",
    "healthTimeoutMinutes", "maxCostPerHour", "promoteFrom", "runpodApiUrl", "publicEndpoint", "running",
    "deployment", "workersMin", "workersMax", "idleTimeoutSeconds", "requestsPerWorker", "flashboot",
    "modelCacheGb", "modelCacheType", "modelCacheDataCenter", "retainModelCache",
    *SECRET_KEYS,
)
