"""The `deployment` setting and the keys of a RunPod Serverless deployment: how many workers, when they scale
down, how many requests one worker takes before another starts, and FlashBoot.

Each key is valid for one way of serving only. The Pulumi CLI fills in the schema's defaults for every stack, so
"set" cannot be told from "left at its default": a key of the other deployment is refused when it differs from
its default, naming the key and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from components.names import PROJECT
from components.settings.errors import SettingsError
from components.settings.values import Raw
from components.stack_config import DEFAULTS

__all__ = ["POD_ONLY", "SERVERLESS_ONLY", "Deployment", "Serverless", "check_deployment_keys", "deployment",
           "serverless"]

Deployment = Literal["pod", "serverless"]

# What each pod-only key means, for the message that refuses it under serverless.
POD_ONLY = {
    "running": "a serverless endpoint scales its workers to zero by itself (workersMin 0)",
    "cloud": "serverless workers run on RunPod's Secure Cloud",
    "publicEndpoint": "the load balancer asks every client for a RunPod API key",
    "vllmApiKey": "RunPod's load balancer authenticates clients with a RunPod API key in the same "
                  "Authorization header vLLM's key would need",
}
SERVERLESS_ONLY = ("workersMin", "workersMax", "idleTimeoutSeconds", "requestsPerWorker", "flashboot")


@dataclass(frozen=True)
class Serverless:
    """How a serverless endpoint scales (read for every stack; used only with `deployment: serverless`)."""

    workers_min: int
    workers_max: int
    idle_timeout_s: int
    requests_per_worker: int
    flashboot: bool


def deployment(raw: Raw) -> Deployment:
    value = (raw.text("deployment") or str(DEFAULTS["deployment"])).lower()
    if value not in ("pod", "serverless"):
        raise SettingsError("deployment", raw.get("deployment"), "expected pod (one GPU pod, the default) or "
                            "serverless (a RunPod Serverless load-balancer endpoint that scales its workers).")
    return cast(Deployment, value)


def serverless(raw: Raw) -> Serverless:
    return Serverless(workers_min=raw.whole("workersMin"), workers_max=raw.whole("workersMax"),
                      idle_timeout_s=raw.whole("idleTimeoutSeconds"),
                      requests_per_worker=raw.whole("requestsPerWorker"), flashboot=raw.flag("flashboot"))


def check_deployment_keys(raw: Raw, chosen: Deployment, config: Serverless) -> None:
    """Refuse a key that has no effect in this deployment, unless it is at its default (see the docstring), and
    a serverless minimum above its maximum."""
    if chosen == "serverless":
        for key, why in POD_ONLY.items():
            if raw.differs_from_default(key):
                raise SettingsError(key, raw.get(key), f"it applies to deployment pod only, and this stack deploys "
                                    f"serverless: {why}. Remove it (`pulumi config rm {key}`), or set "
                                    f"{PROJECT}:deployment pod.")
        if config.workers_min > config.workers_max:
            raise SettingsError("workersMin", raw.get("workersMin"), f"it is above {PROJECT}:workersMax "
                                f"({config.workers_max}): RunPod keeps workersMin workers running, and cannot run "
                                "more than workersMax. Lower workersMin or raise workersMax.")
        return
    for key in SERVERLESS_ONLY:
        if raw.differs_from_default(key):
            raise SettingsError(key, raw.get(key), f"it applies to deployment serverless only, and this stack "
                                f"deploys a pod. Remove it (`pulumi config rm {key}`), or set "
                                f"{PROJECT}:deployment serverless.")

