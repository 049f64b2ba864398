"""Which GPU types (or serverless pools) a deploy tries, in which order, and what it refuses before billing.

Pure rules over RunPod's live catalog (`GpuOffer`s, fetched by the caller for the stack's cloud, GPU count
and CUDA floor) and the compatibility rules (`fits`: why a GPU type cannot serve the model, or None).
`gpuTypes` lists ids in order of preference and may end with `auto`: every type the rules let through that
the catalog offers now with the CUDA floor, cheapest first (list price × GPU count). `maxCostPerHour` drops
what costs more before anything is created. The catalog orders candidates; it reserves nothing, so the pod
provider still tries them in turn and RunPod's answer decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from components import compat
from components.compat import AUTO
from components.names import setting
from components.runpod.catalog import AVAILABILITY_LEVELS, GpuOffer

__all__ = ["AUTO", "Candidate", "Dropped", "NoCandidate", "PodPlan", "PoolPlan", "compat_fits", "describe_plan",
           "plan_pod", "plan_pools", "table_fits"]

Fits = Callable[[str], str | None]


class NoCandidate(ValueError):
    """Nothing may be tried: the message names the setting to change and the cheapest price seen; `dropped`
    says why each type was left out."""

    def __init__(self, message: str, dropped: Sequence[Dropped] = ()) -> None:
        super().__init__(message)
        self.dropped = tuple(dropped)


@dataclass(frozen=True)
class Candidate:
    gpu_type_id: str
    price_per_hour: float | None  # list USD/h for the whole unit (× GPU count); None when the catalog is silent
    availability: str  # the catalog's level, or "unknown" without a catalog
    source: str  # "listed" (named in gpuTypes) or "auto"

    def describe(self) -> str:
        price = "price unknown" if self.price_per_hour is None else f"${self.price_per_hour:.2f}/h"
        return f"{self.gpu_type_id} ({price}, availability {self.availability}, {self.source})"


@dataclass(frozen=True)
class Dropped:
    gpu_type_id: str
    reason: str
    price_per_hour: float | None = None  # set only when the budget dropped it (`_over_budget`)

    @property
    def over_budget(self) -> bool:
        return self.price_per_hour is not None


@dataclass(frozen=True)
class PodPlan:
    candidates: tuple[Candidate, ...]
    dropped: tuple[Dropped, ...] = ()

    @property
    def gpu_type_ids(self) -> tuple[str, ...]:
        return tuple(c.gpu_type_id for c in self.candidates)


def _rank(level: str) -> int:
    return AVAILABILITY_LEVELS.index(level) if level in AVAILABILITY_LEVELS else 0


def _over_budget(gpu_id: str, price: float | None, max_cost: float | None, unit: str) -> Dropped | None:
    if max_cost is None or price is None or price <= max_cost:
        return None
    return Dropped(gpu_id, f"${price:.2f}/h {unit} is above {setting('maxCostPerHour')} ${max_cost:.2f}", price)


def plan_pod(wanted: Sequence[str], *, offers: Sequence[GpuOffer] | None, fits: Fits, cloud: str, gpu_count: int,
             max_cost_per_hour: float | None = None, data_center: str | None = None,
             catalog_error: str | None = None) -> PodPlan:
    """The GPU types a pod create tries, in order: the listed ones as listed, then (with `auto`) the rest.
    `offers` None means the catalog could not be read (`catalog_error` says why): listed types still go, in
    order and unpriced; `auto` cannot. `data_center` pins placement (a network volume lives there)."""
    by_id = {o.id: o for o in offers or ()}
    listed = [g for g in wanted if g != AUTO]
    kept: list[Candidate] = []
    dropped: list[Dropped] = []
    for gpu in listed:
        offer = by_id.get(gpu)
        if offer is None:  # not in the catalog's answer (or no catalog): only RunPod's create can tell
            kept.append(Candidate(gpu, None, "unknown", "listed"))
        elif (refusal := _pod_refusal(offer, cloud, gpu_count, max_cost_per_hour, data_center)) is not None:
            dropped.append(refusal)
        else:
            kept.append(Candidate(gpu, offer.pod_price(cloud) * gpu_count, offer.availability, "listed"))
    if AUTO in wanted:
        if offers is None:
            raise NoCandidate(f"{setting('gpuTypes')} ends with auto, which chooses from RunPod's live catalog, and "
                              f"the catalog could not be read ({catalog_error or 'no answer'}): list GPU type ids "
                              "instead, or retry later")
        auto, refused = _auto_candidates(offers, set(listed), fits, cloud, gpu_count, max_cost_per_hour, data_center)
        kept += auto
        dropped += refused
    if not kept:
        raise NoCandidate(_nothing_left(dropped, cloud, gpu_count) + _free_elsewhere(offers, listed, fits, cloud,
                                                                                      data_center), dropped)
    return PodPlan(tuple(kept), tuple(dropped))


def _pod_refusal(offer: GpuOffer, cloud: str, gpu_count: int, max_cost: float | None,
                 data_center: str | None) -> Dropped | None:
    """Why a type the catalog lists cannot be tried, or None."""
    if not offer.offered_in(cloud):
        return Dropped(offer.id, f"not offered in {cloud} cloud ({setting('cloud')})")
    if data_center is not None and data_center not in offer.free_data_centers():
        return Dropped(offer.id, f"none free in {data_center}, where the model cache volume is")
    return _over_budget(offer.id, offer.pod_price(cloud) * gpu_count, max_cost, f"for {gpu_count} GPU")


def _auto_candidates(offers: Sequence[GpuOffer], listed: set[str], fits: Fits, cloud: str, gpu_count: int,
                     max_cost: float | None, data_center: str | None) -> tuple[list[Candidate], list[Dropped]]:
    kept: list[Candidate] = []
    dropped: list[Dropped] = []
    for offer in offers:
        if offer.id in listed:
            continue
        problem = fits(offer.id)
        if problem is not None:
            dropped.append(Dropped(offer.id, problem))
            continue
        if not offer.available_now():
            dropped.append(Dropped(offer.id, "no capacity at the CUDA floor now"))
            continue
        refusal = _pod_refusal(offer, cloud, gpu_count, max_cost, data_center)
        if refusal is not None:
            dropped.append(refusal)
            continue
        kept.append(Candidate(offer.id, offer.pod_price(cloud) * gpu_count, offer.availability, "auto"))
    kept.sort(key=lambda c: (c.price_per_hour or 0.0, -_rank(c.availability), c.gpu_type_id))
    return kept, dropped


def _nothing_left(dropped: Sequence[Dropped], cloud: str, gpu_count: int, *, serverless: bool = False) -> str:
    priced = [d for d in dropped if d.over_budget]
    where = "RunPod Serverless" if serverless else f"{cloud} cloud"
    head = f"no GPU type in {setting('gpuTypes')} can be tried ({where}, {gpu_count} GPU)"
    if priced:
        cheapest = min(priced, key=lambda d: d.price_per_hour or 0.0)
        fewer = f"{setting('workersMax')} or {setting('gpuCount')}" if serverless else setting("gpuCount")
        return (f"{head}: every candidate costs more than {setting('maxCostPerHour')} allows; the cheapest seen is "
                f"{cheapest.gpu_type_id} at ${cheapest.price_per_hour:.2f}/h. Raise {setting('maxCostPerHour')} to "
                f"at least {cheapest.price_per_hour:.2f}, or lower {fewer}")
    reasons = "; ".join(f"{d.gpu_type_id}: {d.reason}" for d in dropped[:8]) or "the catalog lists none"
    return f"{head}: {reasons}. Add GPU types to {setting('gpuTypes')} (or end it with auto), or retry later"


def _free_elsewhere(offers: Sequence[GpuOffer] | None, listed: Sequence[str], fits: Fits, cloud: str,
                    data_center: str | None) -> str:
    """The GPU types not listed that fit and are free now (in the pinned data center), to name in a refusal."""
    free = [o for o in offers or () if o.id not in listed and o.offered_in(cloud) and fits(o.id) is None
            and (data_center in o.free_data_centers() if data_center else o.available_now())]
    if not free:
        return ""
    where = f" in {data_center}" if data_center else ""
    names = ", ".join(f"{o.id} (${o.pod_price(cloud):.2f}/h)" for o in sorted(free, key=lambda o: o.pod_price(cloud)))
    return f". Free now{where} and fitting: {names}"


def compat_fits(vllm_version: str, gpu_count: int, model: str, max_model_len: int) -> Fits:
    """The compatibility rules as `fits`, each refusal worded by them (VRAM, bf16, kernels)."""
    return lambda gpu: compat.gpu_problem(vllm_version, gpu, gpu_count, model, max_model_len)


def table_fits(allowed: Sequence[str]) -> Fits:
    """`fits` from the list those rules gave beforehand (`compat.auto_gpu_types`), as the providers get it."""
    chosen = frozenset(allowed)
    return lambda gpu: None if gpu in chosen else "not among the GPU types the compatibility rules let through"


def describe_plan(plan: PodPlan, wanted: Sequence[str], *, every_drop: bool = False) -> list[str]:
    """One line per candidate, in order, then one per GPU type left out: every one with `every_drop`, else those
    `wanted` names and those the budget refused (not every type of the catalog that cannot serve the model)."""
    lines = [f"{n}. {c.describe()}" for n, c in enumerate(plan.candidates, start=1)]
    shown = [d for d in plan.dropped if every_drop or d.gpu_type_id in wanted or d.over_budget]
    lines += [f"not tried: {d.gpu_type_id}: {d.reason}" for d in shown]
    return lines


# ---- serverless pools -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolPlan:
    """A serverless endpoint's GPU choice: pools in order, and the other cards of those pools excluded."""

    pools: tuple[str, ...]
    excluded_types: tuple[str, ...]
    gpu_type_ids: tuple[str, ...]  # the types that may run a worker
    price_per_worker_hour: dict[str, float]  # per pool: list USD/h of one worker (× GPU count)
    dropped: tuple[Dropped, ...] = ()


def plan_pools(wanted: Sequence[str], *, offers: Sequence[GpuOffer], fits: Fits, gpu_count: int,
               workers_max: int, max_cost_per_hour: float | None = None) -> PoolPlan:
    """Pools for `wanted` (ids, maybe ending with auto), from a SERVERLESS catalog. `max_cost_per_hour` caps
    `workers_max` workers at the pool's list price; idle workers (min 0) bill nothing."""
    by_id = {o.id: o for o in offers}
    chosen: list[GpuOffer] = []
    dropped: list[Dropped] = []
    candidates: list[GpuOffer | str] = [by_id.get(g, g) for g in wanted if g != AUTO]
    if AUTO in wanted:
        rest = sorted((o for o in offers if o.id not in wanted),
                      key=lambda o: (o.price_serverless or 0.0, -_rank(o.availability), o.id))
        candidates += rest
    for item in candidates:
        if isinstance(item, str):
            dropped.append(Dropped(item, "not in RunPod's serverless catalog"))
            continue
        reason = _pool_refusal(item, fits, gpu_count, workers_max, max_cost_per_hour, listed=item.id in wanted)
        if reason is not None:
            dropped.append(reason)
        else:
            chosen.append(item)
    if not chosen:
        raise NoCandidate(_nothing_left(dropped, "SECURE", gpu_count, serverless=True), dropped)
    pools = tuple(dict.fromkeys(o.pool for o in chosen if o.pool))
    ids = {o.id for o in chosen}
    excluded = tuple(sorted(o.id for o in offers if o.pool in pools and o.id not in ids))
    prices = {pool: max((o.price_serverless or 0.0) * gpu_count for o in chosen if o.pool == pool) for pool in pools}
    return PoolPlan(pools, excluded, tuple(o.id for o in chosen), prices, tuple(dropped))


def _pool_refusal(offer: GpuOffer, fits: Fits, gpu_count: int, workers_max: int, max_cost: float | None,
                  *, listed: bool) -> Dropped | None:
    if offer.pool is None or offer.price_serverless is None:
        return Dropped(offer.id, "in no serverless pool open to this account")
    if not listed and (problem := fits(offer.id)) is not None:
        return Dropped(offer.id, problem)
    worst = offer.price_serverless * gpu_count * max(workers_max, 1)
    return _over_budget(offer.id, worst, max_cost, f"for {max(workers_max, 1)} busy worker(s)")
