"""The model cache settings: a RunPod network volume the stack manages for the Hugging Face and vLLM caches
(`modelCacheGb`, `modelCacheType`, `modelCacheDataCenter`, `retainModelCache`). `networkVolumeId` (a volume of
your own) stays; the two are exclusive."""

from __future__ import annotations

from dataclasses import dataclass

from components.names import PROJECT
from components.runpod.volumes import VOLUME_TYPES
from components.setting_rules import data_center
from components.settings.errors import SettingsError
from components.settings.values import Raw

__all__ = ["ModelCacheSettings", "model_cache"]

_NEEDS_THE_CACHE = ("modelCacheType", "modelCacheDataCenter", "retainModelCache")


@dataclass(frozen=True)
class ModelCacheSettings:
    """The managed volume: its size, storage tier, an optional data center, and whether destroy keeps it."""

    size_gb: int
    volume_type: str
    data_center: str | None
    retain: bool


def model_cache(raw: Raw, network_volume_id: str | None) -> ModelCacheSettings | None:
    """The managed volume's settings, or None when `modelCacheGb` is unset (then the other keys must be too)."""
    if not raw.is_set("modelCacheGb"):
        _refuse_orphans(raw)
        return None
    size = raw.whole("modelCacheGb")
    if network_volume_id:
        raise SettingsError("modelCacheGb", raw.get("modelCacheGb"), f"it conflicts with {PROJECT}:networkVolumeId: "
                            "the stack either manages a volume for the model cache (modelCacheGb) or uses yours "
                            "(networkVolumeId). Unset one of them.")
    return ModelCacheSettings(size_gb=size, volume_type=raw.choice("modelCacheType", VOLUME_TYPES),
                              data_center=_data_center(raw), retain=raw.flag("retainModelCache"))


def _data_center(raw: Raw) -> str | None:
    value = raw.text("modelCacheDataCenter")
    try:
        return None if value is None else data_center(value)
    except ValueError as e:
        raise SettingsError("modelCacheDataCenter", value, str(e)) from None


def _refuse_orphans(raw: Raw) -> None:
    """A cache setting other than its default without `modelCacheGb` does nothing: most likely a mistake."""
    for key in _NEEDS_THE_CACHE:
        if raw.differs_from_default(key):
            raise SettingsError(key, raw.text(key), f"it only applies with {PROJECT}:modelCacheGb (the volume the "
                                "stack manages for the model cache). Set modelCacheGb too, or unset this key.")
