"""Which GPU types a deploy tries, and what it refuses before billing: pure rules over catalog offers."""

from __future__ import annotations

import pytest

from components import compat
from components.placement import AUTO, NoCandidate, plan_pod, plan_pools
from components.runpod.catalog import GpuOffer

L40S, ADA6000, A40, H100, RTX4090, L4 = ("NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A40",
                                        "NVIDIA H100 PCIe", "NVIDIA GeForce RTX 4090", "NVIDIA L4")


def offer(gpu: str, memory: int, secure: float, community: float, pool: str | None, serverless: float | None,
          availability: str = "HIGH", free: bool = True, dcs: tuple[str, ...] = ("US-TX-3", "EU-RO-1")) -> GpuOffer:
    return GpuOffer(id=gpu, name=gpu, memory_gb=memory, pool=pool, price_secure=secure, price_community=community,
                    price_serverless=serverless, availability=availability,
                    data_centers=tuple((dc, availability) for dc in dcs), cuda_versions=(("12.9", free),))


OFFERS = [
    offer(L40S, 48, 0.86, 0.79, "ADA_48_PRO", 1.91),
    offer(ADA6000, 48, 0.77, 0.74, "ADA_48_PRO", 1.91, availability="LOW"),
    offer(A40, 48, 0.40, 0.35, "AMPERE_48", 1.22, dcs=("EU-RO-1",)),
    offer(H100, 80, 2.39, 1.99, "ADA_80_PRO", 4.18),
    offer(RTX4090, 24, 0.69, 0.34, "ADA_24", 1.10),
    offer(L4, 24, 0.43, 0.39, "AMPERE_24", 0.68, availability="NONE", free=False),
]


def fits(gpu: str) -> str | None:
    """The stack's compatibility rules for AutoGLM at 25480 tokens on one GPU."""
    return compat.gpu_problem("0.12.0", gpu, 1, "zai-org/AutoGLM-Phone-9B", 25480)


def test_auto_alone_takes_every_type_that_fits_and_is_free_cheapest_first() -> None:
    plan = plan_pod([AUTO], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1)
    assert plan.gpu_type_ids == (A40, ADA6000, L40S, H100)
    assert plan.candidates[0].price_per_hour == pytest.approx(0.40) and plan.candidates[0].source == "auto"
    dropped = {d.gpu_type_id: d.reason for d in plan.dropped}
    assert "not enough VRAM" in dropped[RTX4090] and dropped[L4] != ""


def test_listed_types_keep_their_order_and_auto_adds_the_rest() -> None:
    plan = plan_pod([H100, L40S, AUTO], offers=OFFERS, fits=fits, cloud="COMMUNITY", gpu_count=2)
    assert plan.gpu_type_ids == (H100, L40S, A40, ADA6000)
    assert [c.source for c in plan.candidates] == ["listed", "listed", "auto", "auto"]
    assert plan.candidates[0].price_per_hour == pytest.approx(2 * 1.99)


def test_the_budget_drops_dearer_candidates_with_their_price() -> None:
    plan = plan_pod([H100, AUTO], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1, max_cost_per_hour=0.80)
    assert plan.gpu_type_ids == (A40, ADA6000)
    reasons = {d.gpu_type_id: d.reason for d in plan.dropped}
    assert reasons[H100] == "$2.39/h for 1 GPU is above autoglm-runpod:maxCostPerHour $0.80"
    assert "$0.86/h" in reasons[L40S]


def test_nothing_under_the_budget_fails_with_the_cheapest_price_and_the_fix() -> None:
    with pytest.raises(NoCandidate) as caught:
        plan_pod([L40S, H100], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1, max_cost_per_hour=0.5)
    message = str(caught.value)
    assert "the cheapest seen is NVIDIA L40S at $0.86/h" in message
    assert "Raise autoglm-runpod:maxCostPerHour to at least 0.86" in message


def test_without_a_catalog_listed_types_still_go_and_auto_fails_with_the_reason() -> None:
    plan = plan_pod([L40S, H100], offers=None, fits=fits, cloud="SECURE", gpu_count=1, catalog_error="503")
    assert plan.gpu_type_ids == (L40S, H100) and plan.candidates[0].price_per_hour is None
    with pytest.raises(NoCandidate, match=r"ends with auto.*could not be read \(503\)"):
        plan_pod([L40S, AUTO], offers=None, fits=fits, cloud="SECURE", gpu_count=1, catalog_error="503")


def test_a_pinned_data_center_keeps_only_types_free_there() -> None:
    plan = plan_pod([L40S, AUTO], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1, data_center="EU-RO-1")
    assert plan.gpu_type_ids == (L40S, A40, ADA6000, H100)
    plan = plan_pod([AUTO], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1, data_center="US-TX-3")
    assert A40 not in plan.gpu_type_ids
    assert "none free in US-TX-3" in {d.gpu_type_id: d.reason for d in plan.dropped}[A40]


def test_a_listed_type_the_catalog_does_not_list_is_still_tried() -> None:
    plan = plan_pod(["NVIDIA A100 80GB PCIe"], offers=OFFERS, fits=fits, cloud="SECURE", gpu_count=1)
    assert plan.candidates[0].availability == "unknown"


def test_pools_for_listed_types_exclude_the_other_cards_of_those_pools() -> None:
    plan = plan_pools([L40S], offers=OFFERS, fits=fits, gpu_count=1, workers_max=2)
    assert (plan.pools, plan.excluded_types, plan.gpu_type_ids) == (("ADA_48_PRO",), (ADA6000,), (L40S,))
    assert plan.price_per_worker_hour == {"ADA_48_PRO": pytest.approx(1.91)}


def test_auto_pools_are_every_fitting_pool_cheapest_first() -> None:
    plan = plan_pools([AUTO], offers=OFFERS, fits=fits, gpu_count=1, workers_max=2)
    assert plan.pools == ("AMPERE_48", "ADA_48_PRO", "ADA_80_PRO") and plan.excluded_types == ()


def test_the_budget_caps_max_workers_at_the_pool_price() -> None:
    plan = plan_pools([AUTO], offers=OFFERS, fits=fits, gpu_count=1, workers_max=2, max_cost_per_hour=4.0)
    assert plan.pools == ("AMPERE_48", "ADA_48_PRO")
    with pytest.raises(NoCandidate, match=r"cheapest seen is NVIDIA A40 at \$2\.44/h"):
        plan_pools([AUTO], offers=OFFERS, fits=fits, gpu_count=1, workers_max=2, max_cost_per_hour=1.0)


def test_a_refusal_names_the_types_that_fit_and_are_free_where_the_pod_must_run() -> None:
    offers = [offer(L40S, 48, 0.86, 0.79, "ADA_48_PRO", 1.91, dcs=("EU-RO-1",)),
              offer(A40, 48, 0.40, 0.35, "AMPERE_48", 1.22, dcs=("US-TX-3",)),
              offer(RTX4090, 24, 0.69, 0.34, "ADA_24", 1.10, dcs=("US-TX-3",))]
    with pytest.raises(NoCandidate) as caught:
        plan_pod([L40S], offers=offers, fits=fits, cloud="SECURE", gpu_count=1, data_center="US-TX-3")
    message = str(caught.value)
    assert f"{L40S}: none free in US-TX-3" in message
    assert message.endswith(f"Free now in US-TX-3 and fitting: {A40} ($0.40/h)"), "not the 4090: it cannot hold it"
