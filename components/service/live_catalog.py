"""RunPod's live GPU catalog as the program reads it (read-only, once per run and question), so preview can show
the plan and its prices before anything bills. Without a RunPod key, or when RunPod does not answer, the answer
says why and the choice is left to the providers at `up`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from components.runpod import GpuOffer, RunPodClient, RunPodError
from components.runpod.credentials import KeySources
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_KEY_MISSING, RUNPOD_URL_FROM

__all__ = ["LiveCatalog", "live_offers"]

_SOURCES = KeySources(key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM, missing=RUNPOD_KEY_MISSING)


@dataclass(frozen=True)
class LiveCatalog:
    """`offers` None when the catalog could not be read; `error` then says why (never a secret)."""

    offers: tuple[GpuOffer, ...] | None
    error: str | None = None


@functools.lru_cache(maxsize=32)
def live_offers(product: str, *, cloud: str, count: int, min_cuda_version: str | None, api_key: str | None,
                api_url: str | None) -> LiveCatalog:
    """GET /v2/catalog/gpus for `product` (POD or SERVERLESS), cached for the program run."""
    if not api_key:
        return LiveCatalog(None, "no RunPod API key at hand (runpodApiKey or RUNPOD_API_KEY)")
    try:
        client = RunPodClient.from_env(api_key=api_key, base_url=api_url, sources=_SOURCES)
        offers = client.catalog.offers(product=product, count=count, cloud=cloud, min_cuda_version=min_cuda_version)
    except RunPodError as e:
        return LiveCatalog(None, str(e))
    return LiveCatalog(tuple(offers))
