"""Where a model cache volume goes: pure rules over catalog offers (components/volume_placement.py)."""

from __future__ import annotations

import pytest

from components.compat import AUTO
from components.placement import compat_fits
from components.runpod.catalog import GpuOffer
from components.volume_placement import NoSite, choose_site

L40S, ADA6000, H100, A40, L4 = ("NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA A40",
                                "NVIDIA L4")
FITS = compat_fits("0.12.0", 1, "zai-org/AutoGLM-Phone-9B", 25480)


def offer(gpu: str, secure: float, dcs: dict[str, str], pool: str | None = None,
          serverless: float | None = None) -> GpuOffer:
    free = any(level != "NONE" for level in dcs.values())
    return GpuOffer(id=gpu, name=gpu, memory_gb=48, pool=pool, price_secure=secure, price_serverless=serverless,
                    availability="HIGH" if free else "NONE", data_centers=tuple(dcs.items()),
                    cuda_versions=(("12.9", free),))


PODS = [offer(A40, 0.40, {"EU-RO-1": "LOW"}), offer(ADA6000, 0.77, {"US-TX-3": "HIGH", "EU-SE-1": "LOW"}),
        offer(L40S, 0.86, {"US-TX-3": "HIGH", "EU-SE-1": "HIGH"}), offer(H100, 2.39, {"EU-SE-1": "HIGH"}),
        offer(L4, 0.30, {"EU-SE-1": "HIGH"})]  # the cheapest, but it cannot hold the model


def test_the_data_center_of_the_cheapest_candidate_wins() -> None:
    site = choose_site(["US-TX-3", "EU-RO-1", "EU-SE-1"], {"POD": PODS}, wanted=[AUTO], fits=FITS, gpu_count=1)
    assert site.data_center == "EU-RO-1" and [c.gpu_type_id for c in site.candidates] == [A40]


def test_only_data_centers_offering_the_tier_are_candidates() -> None:
    site = choose_site(["US-TX-3", "EU-SE-1"], {"POD": PODS}, wanted=[AUTO], fits=FITS, gpu_count=1)
    assert site.data_center == "US-TX-3", "the 6000 Ada is HIGH there, LOW in EU-SE-1"
    assert [c.gpu_type_id for c in site.candidates] == [ADA6000, L40S]


def test_listed_types_decide_and_the_budget_counts() -> None:
    assert choose_site(["US-TX-3", "EU-SE-1"], {"POD": PODS}, wanted=[H100], fits=FITS,
                       gpu_count=1).data_center == "EU-SE-1"
    site = choose_site(["US-TX-3", "EU-SE-1"], {"POD": PODS}, wanted=[H100, L40S], fits=FITS, gpu_count=1,
                       max_cost_per_hour=1.0)
    assert site.data_center == "EU-SE-1" and [c.gpu_type_id for c in site.candidates] == [L40S]


def test_a_listed_type_the_catalog_does_not_know_proves_nothing() -> None:
    with pytest.raises(NoSite, match=r"none of those offering its storage tier \(EU-RO-1\) has a GPU type"):
        choose_site(["EU-RO-1"], {"POD": PODS}, wanted=["NVIDIA B200"], fits=FITS, gpu_count=1)


def test_serverless_needs_a_pool_with_workers_free_there_too() -> None:
    workers = [offer(A40, 0.40, {"EU-RO-1": "NONE", "US-TX-3": "HIGH"}, "AMPERE_48", 1.22),
               offer(L40S, 0.86, {"US-TX-3": "LOW"}, "ADA_48_PRO", 1.91)]
    site = choose_site(["US-TX-3", "EU-RO-1"], {"POD": PODS, "SERVERLESS": workers}, wanted=[AUTO], fits=FITS,
                       gpu_count=1)
    assert site.data_center == "US-TX-3" and site.serverless_types == (A40, L40S)
    alone = choose_site(["US-TX-3", "EU-RO-1"], {"SERVERLESS": workers}, wanted=[L40S], fits=FITS, gpu_count=1)
    assert alone.data_center == "US-TX-3" and alone.candidates == ()


def test_nowhere_says_what_was_looked_at_and_what_to_change() -> None:
    with pytest.raises(NoSite) as caught:
        choose_site(["EU-RO-1", "US-TX-3"], {"POD": PODS}, wanted=[H100], fits=FITS, gpu_count=1)
    message = str(caught.value)
    assert "(EU-RO-1, US-TX-3)" in message and "for pods" in message and "autoglm-runpod:gpuTypes" in message
