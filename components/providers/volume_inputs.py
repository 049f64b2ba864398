"""A network volume's inputs, declared once (`VolumeSpec` and its `VOLUME_INPUTS` schema), the request body, the
price, and the diff rules. No I/O.

Two kinds of input: what the volume is (its name, size, storage tier, and the data center when one is pinned)
and where its data center may be chosen (the GPU types, count and CUDA floor its pods or serverless workers will
need, the budget, the products). The second kind is read once, when the volume is created: a change to it
changes nothing on RunPod, and never replaces the volume (its data would be lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.names import setting
from components.providers.checks import check_cuda, check_ids, check_max_cost, check_positive_int
from components.providers.schema import Schema, is_unknown, spec_field
from components.runpod import VolumeInfo
from components.runpod.volumes import VOLUME_TYPES
from components.setting_rules import BOUNDS, DATA_CENTER_ID

__all__ = ["PLACEMENT_KEYS", "PRODUCTS", "VOLUME_INPUTS", "VolumeSpec", "monthly_price",
           "volume_changes", "volume_outputs"]

PRODUCTS = ("POD", "SERVERLESS")
MIN_GB, MAX_GB = BOUNDS["modelCacheGb"]  # RunPod's limits; beyond 4 TB "contact support"
# RunPod's price list for STANDARD volumes: $0.07 per GB and month for the first TB, $0.05 beyond. The API
# exposes no volume price at all, and HIGH_PERFORMANCE "varies by data center" (../shared/research/runpod-scale.md).
STANDARD_USD_PER_GB_MONTH, STANDARD_BEYOND_TB_USD, TB_GB = 0.07, 0.05, 1000


def _check_name(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty name"


def _check_size(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() and MIN_GB <= v <= MAX_GB
    return None if ok else f"must be a whole number of GB from {MIN_GB} to {MAX_GB}"


def _check_type(v: Any) -> str | None:
    return None if v in VOLUME_TYPES else f"must be {' or '.join(VOLUME_TYPES)}"


def _check_data_center(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and DATA_CENTER_ID.match(v)) else \
        "must be a RunPod data center id in upper case, e.g. EU-RO-1"


_GPU_IDS = check_ids("RunPod GPU type ids (and maybe auto last)", '["NVIDIA L40S", "auto"]')


def _check_products(v: Any) -> str | None:
    ok = isinstance(v, list | tuple) and v and all(p in PRODUCTS for p in v)
    return None if ok else f"must list one or more of {', '.join(PRODUCTS)}"


@dataclass(frozen=True)
class VolumeSpec:
    """A volume's checked inputs, typed. The field names are the resource's input keys (kept in users' state)."""

    name: str = spec_field(_check_name, convert=str)
    size_gb: int = spec_field(_check_size, convert=int, setting=setting("modelCacheGb"))
    volume_type: str = spec_field(_check_type, convert=str, setting=setting("modelCacheType"), replaces=True,
                                  default="STANDARD")
    data_center_id: str | None = spec_field(_check_data_center, convert=str, default=None,
                                            setting=setting("modelCacheDataCenter"))
    # Where the data center may be chosen: what the volume's users need there (read only at create).
    gpu_type_ids: tuple[str, ...] = spec_field(_GPU_IDS, convert=tuple, default=(), setting=setting("gpuTypes"))
    auto_gpu_type_ids: tuple[str, ...] = spec_field(_GPU_IDS, convert=tuple, default=())
    gpu_count: int = spec_field(check_positive_int, convert=int, default=1, setting=setting("gpuCount"))
    min_cuda_version: str | None = spec_field(check_cuda, convert=str, default=None)
    max_cost_per_hour: float | None = spec_field(check_max_cost, convert=float, default=None,
                                                 setting=setting("maxCostPerHour"))
    products: tuple[str, ...] = spec_field(_check_products, convert=tuple, default=("POD",))

    def create_body(self, data_center: str) -> dict[str, Any]:
        """A `CreateNetworkVolumeRequest`."""
        return {"name": self.name, "size": self.size_gb, "dataCenter": data_center, "type": self.volume_type}

    def describe(self) -> str:
        return f"network volume {self.name!r}"


VOLUME_INPUTS: Schema[VolumeSpec] = Schema(VolumeSpec)
PLACEMENT_KEYS = frozenset({"gpu_type_ids", "auto_gpu_type_ids", "gpu_count", "min_cuda_version",
                            "max_cost_per_hour", "products"})


def monthly_price(size_gb: int, volume_type: str) -> float | None:
    """RunPod's list price in USD per month; None for HIGH_PERFORMANCE, which RunPod prices per data center and
    does not publish in its API."""
    if volume_type != "STANDARD":
        return None
    first = min(size_gb, TB_GB) * STANDARD_USD_PER_GB_MONTH
    return round(first + max(size_gb - TB_GB, 0) * STANDARD_BEYOND_TB_USD, 2)


def volume_outputs(inputs: Mapping[str, Any], volume: VolumeInfo) -> dict[str, Any]:
    """The resource's outputs: its inputs, then what RunPod reports (the real size, data center and tier)."""
    return {**inputs, "volume_id": volume.id, "name": volume.name, "size_gb": volume.size_gb,
            "data_center_id": volume.data_center, "volume_type": volume.type,
            "monthly_price_usd": monthly_price(volume.size_gb, volume.type)}


def volume_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(changed keys, keys that need a new volume). `olds` are the outputs: the volume as it is. A size at or
    below the current one is no change (the volume only grows), an unset data center accepts the current one,
    and the placement inputs change nothing."""
    new = VOLUME_INPUTS.with_defaults(news)
    changed = [k for k in VOLUME_INPUTS.changed(olds, news) if k not in PLACEMENT_KEYS]
    if "size_gb" in changed and not is_unknown(new.get("size_gb")) and new["size_gb"] <= (olds.get("size_gb") or 0):
        changed.remove("size_gb")
    if "data_center_id" in changed and new.get("data_center_id") is None:
        changed.remove("data_center_id")
    replaces = [k for k in changed if k in ("volume_type", "data_center_id")]
    return changed, replaces
