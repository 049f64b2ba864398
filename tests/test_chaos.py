"""The randomized fault campaign (tests/chaos), a modest sample of it: seeds 0–15, which between them stage
every fault kind and every kind of step. `python -m tests.chaos --seeds 300` runs many more."""

from __future__ import annotations

import time

from tests.chaos.faults import DRAWS
from tests.chaos.plan import MIDDLE_STEPS, plan
from tests.chaos.report import summary
from tests.chaos.runner import run_seeds

SUITE_SEEDS = range(16)


def test_a_seed_fixes_every_step_and_fault() -> None:
    assert plan(7) == plan(7) and plan(7) != plan(8)
    assert plan(7).hf_tokens() and plan(7).vllm_key.startswith("vk-")


def test_the_suites_seeds_stage_every_fault_kind_and_every_step() -> None:
    plans = [plan(seed) for seed in SUITE_SEEDS]
    assert {f.kind for p in plans for s in p.steps for f in s.faults} == set(DRAWS)
    assert {s.kind for p in plans for s in p.steps} >= {"create", *MIDDLE_STEPS}


def test_the_campaign_breaks_no_promise() -> None:
    started = time.monotonic()
    outcomes = run_seeds(list(SUITE_SEEDS), jobs=2)
    report = summary(outcomes, time.monotonic() - started, 2)
    assert [o.seed for o in outcomes] == list(SUITE_SEEDS), report
    assert not [v for o in outcomes for v in o.violations], report
    calls = [obs for o in outcomes for obs in o.observations]
    assert {obs.call for obs in calls} == {"create", "update", "read", "delete"}, report
    assert any(obs.error is None for obs in calls if obs.call == "create"), report
