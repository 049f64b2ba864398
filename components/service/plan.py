"""The plan the deploy will follow, shown before anything bills: the GPU types a pod create will try, in order, with
their list price and availability now, and what the budget or the rules leave out.

With a RunPod key at hand (runpodApiKey or RUNPOD_API_KEY) preview reads the live catalog (read-only, once per
run) and ranks the candidates as the pod provider will at `up`, with the same rules; a budget nothing meets fails
here, before anything is created. Without a key the choice is left to `up`, and preview says so. The provider
decides again at create from a fresh read (prices and stock move), pinned to the model cache volume's data center.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.compat import AUTO
from components.names import PROJECT
from components.placement import NoCandidate, PodPlan, compat_fits, describe_plan, plan_pod
from components.service.live_catalog import live_offers
from components.settings import Secrets, Settings

__all__ = ["PlacementRefused", "placement_plan"]


class PlacementRefused(pulumi.RunError):
    """Nothing may be tried (a budget nothing meets, `auto` without a catalog): the deploy stops before billing."""


def placement_plan(s: Settings, secrets: Secrets) -> dict[str, Any]:
    """The `plan` output's placement part: `candidates`, ranked, when the catalog could be asked ({} when no key is
    at hand: the log line then says the choice is made at `up`). A serverless stack places no pod: its pools and
    their prices come from `service/endpoint.py` (the `serverless_pools` and `serverless_price` outputs)."""
    if s.deployment == "serverless":
        return {}
    catalog = live_offers("POD", cloud=s.cloud, count=s.gpu_count, min_cuda_version=s.cuda_floor.cuda,
                          api_key=secrets.runpod_api_key, api_url=secrets.runpod_api_url)
    if catalog.offers is None and not secrets.runpod_api_key:
        pulumi.log.info(f"{PROJECT}: GPU choice is made at `pulumi up` from RunPod's live catalog ({catalog.error}); "
                        "set one to see the ranked candidates and their prices at preview")
        return {}
    pinned = s.model_cache.data_center if s.model_cache else None
    try:
        plan = plan_pod(s.gpu_types, offers=catalog.offers, fits=compat_fits(s.vllm_version, s.gpu_count, s.model,
                                                                              s.max_model_len),
                        cloud=s.cloud, gpu_count=s.gpu_count, max_cost_per_hour=s.max_cost_per_hour,
                        data_center=pinned, catalog_error=catalog.error)
    except NoCandidate as e:
        raise PlacementRefused(f"{e}. Nothing was created.") from None
    _log(s, plan, catalog.error, pinned)
    return {"candidates": [{"gpu_type": c.gpu_type_id, "usd_per_hour": c.price_per_hour,
                            "availability": c.availability, "source": c.source} for c in plan.candidates]}


def _log(s: Settings, plan: PodPlan, error: str | None, pinned: str | None) -> None:
    where = f" in {pinned}" if pinned else ""
    head = (f"{PROJECT}: GPU types a pod create tries now ({s.cloud} cloud, {s.gpu_count} GPU, CUDA ≥ "
            f"{s.cuda_floor.cuda}{where})")
    if error is not None:
        head += f"; RunPod's catalog could not be read ({error}), so they are unpriced"
    elif s.model_cache and not pinned:
        head += "; with the model cache, only those free in the volume's data center are tried"
    lines = describe_plan(plan, [g for g in s.gpu_types if g != AUTO])
    (pulumi.log.info if error is None else pulumi.log.warn)(head + ":\n  " + "\n  ".join(lines))
