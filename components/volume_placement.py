"""Where a model cache volume goes. A network volume lives in one data center for good, and every pod (or
serverless worker) that mounts it runs there, so the data center must offer the volume's storage tier and have
the GPU types its users may take free now at the image's CUDA floor. Among those, the one whose cheapest
candidate is cheapest wins (then the better availability there, then more candidates).

Pure rules over RunPod's catalog (`GpuOffer`s per product, asked with the GPU count, Secure Cloud and the floor)
and the same placement rules the pod follows (`components.placement`). Listed types the catalog does not know
prove nothing about a data center and are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components.compat import AUTO
from components.names import setting
from components.placement import Candidate, Fits, NoCandidate, plan_pod
from components.runpod.catalog import AVAILABILITY_LEVELS, GpuOffer

__all__ = ["NoSite", "Site", "choose_site"]


class NoSite(ValueError):
    """No data center qualifies; the message says what was looked at and what to change."""


@dataclass(frozen=True)
class Site:
    data_center: str
    candidates: tuple[Candidate, ...]  # POD candidates there, in the order a pod tries them
    serverless_types: tuple[str, ...] = ()  # with SERVERLESS: the GPU types whose pools have workers free there


def choose_site(data_centers: Sequence[str], offers: Mapping[str, Sequence[GpuOffer]], *, wanted: Sequence[str],
                fits: Fits, gpu_count: int, max_cost_per_hour: float | None = None) -> Site:
    """The data center for the volume, among `data_centers` (those offering its tier). `offers` holds the catalog
    per product (`POD`, `SERVERLESS`): a data center qualifies when every product has a candidate free there."""
    sites: list[Site] = []
    for dc in data_centers:
        pods = _pod_candidates(dc, offers.get("POD"), wanted, fits, gpu_count, max_cost_per_hour)
        workers = _serverless_types(dc, offers.get("SERVERLESS"), wanted, fits)
        if ("POD" in offers and not pods) or ("SERVERLESS" in offers and not workers):
            continue
        sites.append(Site(dc, pods, workers))
    if not sites:
        raise NoSite(_nowhere(data_centers, offers))
    return min(sites, key=lambda s: _score(s, offers))


def _pod_candidates(dc: str, offers: Sequence[GpuOffer] | None, wanted: Sequence[str], fits: Fits, gpu_count: int,
                    max_cost: float | None) -> tuple[Candidate, ...]:
    if offers is None:
        return ()
    try:
        plan = plan_pod(wanted, offers=offers, fits=fits, cloud="SECURE", gpu_count=gpu_count,
                        max_cost_per_hour=max_cost, data_center=dc)
    except NoCandidate:
        return ()
    return tuple(c for c in plan.candidates if c.price_per_hour is not None)  # unknown types prove nothing here


def _serverless_types(dc: str, offers: Sequence[GpuOffer] | None, wanted: Sequence[str], fits: Fits
                      ) -> tuple[str, ...]:
    if offers is None:
        return ()
    listed = set(wanted) - {AUTO}
    return tuple(o.id for o in offers if o.pool and o.price_serverless is not None
                 and dc in o.free_data_centers()
                 and (o.id in listed or (AUTO in wanted and fits(o.id) is None)))


def _score(site: Site, offers: Mapping[str, Sequence[GpuOffer]]) -> tuple[float, int, int, str]:
    by_id = {o.id: o for product in offers.values() for o in product}
    if site.candidates:
        best = min(site.candidates, key=lambda c: c.price_per_hour or 0.0)
        price = best.price_per_hour or 0.0
        offer = by_id.get(best.gpu_type_id)
    else:
        offer = min((by_id[g] for g in site.serverless_types), key=lambda o: o.price_serverless or 0.0)
        price = offer.price_serverless or 0.0
    level = dict(offer.data_centers).get(site.data_center, "NONE") if offer else "NONE"
    rank = AVAILABILITY_LEVELS.index(level) if level in AVAILABILITY_LEVELS else 0
    return (price, -rank, -(len(site.candidates) + len(site.serverless_types)), site.data_center)


def _nowhere(data_centers: Sequence[str], offers: Mapping[str, Sequence[GpuOffer]]) -> str:
    checked = ", ".join(data_centers) or "none"
    users = " and ".join({"POD": "pods", "SERVERLESS": "serverless workers"}[p] for p in sorted(offers))
    return (f"no data center can hold the model cache volume: none of those offering its storage tier ({checked}) "
            f"has a GPU type from {setting('gpuTypes')} free now at the image's CUDA floor for {users} (within "
            f"{setting('maxCostPerHour')}, when set). Add GPU types (or end {setting('gpuTypes')} with auto), raise "
            f"{setting('maxCostPerHour')}, set {setting('modelCacheType')} STANDARD, or retry later")
