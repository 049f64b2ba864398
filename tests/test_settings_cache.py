"""The settings issue 16 adds: `auto` in gpuTypes, and the model cache volume (modelCacheGb, modelCacheType,
modelCacheDataCenter, retainModelCache), each refused with a message naming the key and the fix."""

from __future__ import annotations

import pytest

from components import compat
from components.settings import PlanError, Settings, SettingsError, parse_settings, preflight
from components.settings.cache import ModelCacheSettings

BASE = {"gpuTypes": '["NVIDIA L40S"]', "imageRepository": "ghcr.io/acme/autoglm-vllm"}


def parse(**overrides: str | None) -> Settings:
    return parse_settings({**BASE, **overrides}, "dev")


def refused(**overrides: str) -> str:
    with pytest.raises(SettingsError) as caught:
        parse(**overrides)
    return str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    ('["auto"]', ("auto",)), ('["L40S", "H100 PCIe", "AUTO"]', ("NVIDIA L40S", "NVIDIA H100 PCIe", "auto")),
    ("L40S, auto", ("NVIDIA L40S", "auto")),
])
def test_auto_comes_alone_or_last(value: str, expected: tuple[str, ...]) -> None:
    s = parse(gpuTypes=value)
    assert s.gpu_types == expected
    assert s.auto_gpu_types == compat.auto_gpu_types("0.12.0", 1, "zai-org/AutoGLM-Phone-9B", 25480)
    assert "NVIDIA GeForce RTX 4090" not in s.auto_gpu_types and "NVIDIA A40" in s.auto_gpu_types
    preflight(s)  # nothing to refuse: some type fits


def test_auto_anywhere_else_is_refused() -> None:
    assert "autoglm-runpod:gpuTypes" in (message := refused(gpuTypes='["auto", "L40S"]'))
    assert "auto may only come last" in message


def test_without_auto_nothing_is_left_to_the_catalog() -> None:
    assert parse().auto_gpu_types == ()


def test_preflight_still_checks_the_listed_types_before_auto() -> None:
    with pytest.raises(PlanError, match=r"RTX 4090.*not enough VRAM"):
        preflight(parse(gpuTypes='["RTX 4090", "auto"]'))


def test_the_managed_cache_and_its_defaults() -> None:
    s = parse(modelCacheGb="50")
    assert s.model_cache == ModelCacheSettings(size_gb=50, volume_type="STANDARD", data_center=None, retain=False)
    assert s.has_volume and s.container_disk_gb == 40, "the weights live on the volume"
    s = parse(modelCacheGb="4096", modelCacheType="high_performance", modelCacheDataCenter="EU-RO-1",
              retainModelCache="true")
    assert s.model_cache == ModelCacheSettings(4096, "HIGH_PERFORMANCE", "EU-RO-1", True)
    assert parse().model_cache is None and not parse().has_volume


@pytest.mark.parametrize(("overrides", "says"), [
    ({"modelCacheGb": "5"}, "autoglm-runpod:modelCacheGb = '5' is not valid: expected a whole number from 10 to 4096"),
    ({"modelCacheGb": "50", "networkVolumeId": "vol12345"}, "conflicts with autoglm-runpod:networkVolumeId"),
    ({"modelCacheGb": "50", "cloud": "COMMUNITY"}, "only in Secure Cloud; use SECURE or unset modelCacheGb"),
    ({"modelCacheGb": "50", "modelCacheType": "FAST"}, "expected STANDARD or HIGH_PERFORMANCE"),
    ({"modelCacheGb": "50", "modelCacheDataCenter": "eu-ro-1"}, "in upper case such as EU-RO-1 or US-TX-3 (RunPod's "
                                                                "console lists them). Did you mean 'EU-RO-1'?"),
    ({"modelCacheDataCenter": "EU-RO-1"}, "autoglm-runpod:modelCacheDataCenter = 'EU-RO-1' is not valid: it only "
                                          "applies with autoglm-runpod:modelCacheGb"),
    ({"retainModelCache": "true"}, "retainModelCache = 'true' is not valid: it only applies with"),
    ({"modelCacheType": "HIGH_PERFORMANCE"}, "modelCacheType = 'HIGH_PERFORMANCE' is not valid: it only applies"),
])
def test_bad_cache_settings_name_the_key_and_the_fix(overrides: dict[str, str], says: str) -> None:
    assert says in refused(**overrides)


def test_schema_defaults_without_a_cache_are_no_mistake() -> None:
    """The CLI fills in Pulumi.yaml's defaults, so a default value is no sign the user set it."""
    assert parse(modelCacheType="STANDARD", retainModelCache="false").model_cache is None
