"""The stack served by a RunPod Serverless load-balancer endpoint: its serverless pools (from RunPod's live catalog,
chosen and priced at preview), the `Endpoint`, its URL and its outputs.

The same image as a pod's, with the same CUDA floor; no vLLM key: RunPod's load balancer authenticates every
client with a RunPod API key in `Authorization: Bearer`, and whether it forwards that header to the worker is not
documented, so a vLLM key behind it could collide with it. The RunPod key is the lock.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.names import PROJECT, resource_name
from components.placement import NoCandidate, PoolPlan, compat_fits, plan_pools
from components.providers.endpoint import Endpoint, EndpointArgs
from components.providers.endpoint_inputs import VOLUME_MOUNT_PATH
from components.service.cache import ModelCache
from components.service.images import ImageChoice
from components.service.launch import SERVED_PORT, container_launch, launch_fingerprint
from components.service.live_catalog import live_offers
from components.settings import Secrets, Settings, SettingsError

__all__ = ["EndpointDeployment", "serverless_plan"]

HEALTH_PATH = "/ping"  # the image's proxy: 204 while vLLM loads, 200 once it is healthy


def serverless_plan(s: Settings, secrets: Secrets) -> PoolPlan:
    """The serverless pools for `gpuTypes`, from RunPod's live catalog (read-only, at preview too). Refuses a GPU
    type in no serverless pool, and a `maxCostPerHour` that `workersMax` busy workers would exceed."""
    catalog = live_offers("SERVERLESS", cloud="SECURE", count=s.gpu_count, min_cuda_version=s.cuda_floor.cuda,
                          api_key=secrets.runpod_api_key, api_url=secrets.runpod_api_url)
    if catalog.offers is None:
        fix = (f"Set {PROJECT}:runpodApiKey (or export RUNPOD_API_KEY) and retry" if not secrets.runpod_api_key
               else "Retry once RunPod answers (and accepts the key)")
        raise SettingsError("deployment", s.deployment, f"serverless workers run on RunPod's serverless pools, which "
                            f"the stack reads from RunPod's live catalog, and it could not be read ({catalog.error}). "
                            f"{fix}; nothing was created.")
    fits = compat_fits(s.vllm_version, s.gpu_count, s.model, s.max_model_len)
    try:
        plan = plan_pools(s.gpu_types, offers=catalog.offers, fits=fits, gpu_count=s.gpu_count,
                          workers_max=s.serverless.workers_max, max_cost_per_hour=s.max_cost_per_hour)
    except NoCandidate as e:
        raise _refusal(s, str(e), over_budget=any(d.over_budget for d in e.dropped)) from None
    refused = [d for d in plan.dropped if d.gpu_type_id in s.gpu_types]
    dear = [d for d in refused if d.over_budget]
    if dear:
        raise _refusal(s, "; ".join(f"{d.gpu_type_id}: {d.reason}" for d in dear) + f". Raise {PROJECT}:"
                       f"maxCostPerHour, lower {PROJECT}:workersMax or {PROJECT}:gpuCount, or remove them from "
                       f"{PROJECT}:gpuTypes", over_budget=True)
    if refused:
        raise _refusal(s, "; ".join(f"{d.gpu_type_id}: {d.reason}" for d in refused) + ". Remove them from "
                       f"{PROJECT}:gpuTypes, or list GPU types that RunPod Serverless offers")
    return plan


def _refusal(s: Settings, reason: str, *, over_budget: bool = False) -> SettingsError:
    if over_budget and s.max_cost_per_hour is not None:
        return SettingsError("maxCostPerHour", str(s.max_cost_per_hour), f"with deployment serverless, {reason}.")
    return SettingsError("gpuTypes", json.dumps(list(s.gpu_types)), f"with deployment serverless, {reason}.")


def serverless_price(plan: PoolPlan, workers_max: int, gpu_count: int) -> dict[str, Any]:
    """The catalog's list price for one busy worker (the dearest of the pools: a worker may land on any), per GPU
    and second as RunPod bills, and for `workersMax` busy workers. Scaled-down workers bill nothing."""
    worker_hour = max(plan.price_per_worker_hour.values())
    return {"per_gpu_second": round(worker_hour / gpu_count / 3600, 6), "per_worker_hour": round(worker_hour, 4),
            "at_workers_max_per_hour": round(worker_hour * workers_max, 4),
            "per_pool_worker_hour": dict(plan.price_per_worker_hour), "scaled_to_zero_per_hour": 0.0}


class EndpointDeployment:
    """`base_url` is the OpenAI-compatible URL; `serving` is always true (the endpoint wakes a worker for a
    request); `triggers` change when the server behind the URL does (a new endpoint, image or launch)."""

    def __init__(self, name: str, s: Settings, secrets: Secrets, image: ImageChoice, plan: PoolPlan,
                 parent: pulumi.Resource, cache: ModelCache | None = None) -> None:
        self.settings, self.plan = s, plan
        args = _endpoint_args(name, s, secrets, image, plan, cache)
        self.endpoint = Endpoint(f"{name}-endpoint", args, pulumi.ResourceOptions(parent=parent))
        self.resource: pulumi.Resource = self.endpoint
        self.endpoint_id: pulumi.Output[str] | None = self.endpoint.endpoint_id
        self.base_url: pulumi.Output[str] = self.endpoint.base_url.apply(lambda url: f"{url}/v1")
        self.serving = True
        # A new endpoint, image or launch (a new release rolls out as workers are replaced): check again.
        self.triggers: list[pulumi.Input[str]] = [self.endpoint.endpoint_id, image.ref,
                                                  launch_fingerprint(args.env, args.args)]

    def exports(self) -> dict[str, Any]:
        s = self.settings.serverless
        return {
            "base_url": self.base_url,
            "endpoint_id": self.endpoint.endpoint_id,
            "workers": {"min": s.workers_min, "max": s.workers_max, "idle_timeout_s": s.idle_timeout_s,
                        "requests_per_worker": s.requests_per_worker},
            "gpu_types": list(self.plan.gpu_type_ids),
            "serverless_pools": list(self.plan.pools),
            "serverless_price": serverless_price(self.plan, s.workers_max, self.settings.gpu_count),
        }


def _endpoint_args(name: str, s: Settings, secrets: Secrets, image: ImageChoice, plan: PoolPlan,
                   cache: ModelCache | None) -> EndpointArgs:
    # Workers see a network volume at /runpod-volume (RunPod's fixed path), the managed cache's mount too.
    env, args = container_launch(s, secrets, image, VOLUME_MOUNT_PATH if s.has_volume else None)
    env.update({"PORT": SERVED_PORT, "PORT_HEALTH": SERVED_PORT, "HEALTH_CHECK_PATH": HEALTH_PATH})
    scaling = s.serverless
    return EndpointArgs(
        name=resource_name(s.stack, f"{name}-endpoint"),
        image=image.ref,
        pools=list(plan.pools),
        excluded_types=list(plan.excluded_types),
        min_cuda_version=image.facts.cuda_floor,  # the image's own gate, not the table's
        gpu_count=s.gpu_count,
        container_disk_gb=s.container_disk_gb,
        ports=[f"{SERVED_PORT}/http"],
        env=env,
        args=args,
        network_volume_id=cache.volume.volume_id if cache else s.network_volume_id,
        registry_auth_id=s.registry_auth_id,
        workers_min=scaling.workers_min,
        workers_max=scaling.workers_max,
        idle_timeout_s=scaling.idle_timeout_s,
        request_count=scaling.requests_per_worker,
        flashboot="FLASHBOOT" if scaling.flashboot else "OFF",
    )
