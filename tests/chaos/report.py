"""The campaign's summary: what ran, what was staged, and every promise broken with how to replay it."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

from tests.chaos.lifecycle import Outcome
from tests.chaos.plan import plan

__all__ = ["summary"]

SHOWN_VIOLATIONS = 20


def summary(outcomes: Sequence[Outcome], elapsed_s: float, jobs: int) -> str:
    seeds = sorted(o.seed for o in outcomes)
    calls = [obs for o in outcomes for obs in o.observations]
    by_call = Counter(obs.call for obs in calls)
    failed = Counter(obs.call for obs in calls if obs.error is not None)
    faults = Counter(f.kind for seed in seeds for step in plan(seed).steps for f in step.faults)
    violations = [v for o in outcomes for v in o.violations]
    together = [(took, allowed, o.seed, obs.step) for o in outcomes for obs in o.observations
                for took, allowed in obs.overlaps]
    took, allowed, seed, step = max(together, default=(0.0, 0.0, None, None))
    where = f"seed {seed} step {step}, " if seed is not None else ""
    span = f"{seeds[0]}–{seeds[-1]}" if seeds else "none"
    lines = [
        f"chaos campaign: {len(seeds)} seeds ({span}), {jobs} job(s), {elapsed_s:.0f} s "
        f"({sum(o.seconds for o in outcomes) / max(1, len(outcomes)):.1f} s per seed)",
        f"provider calls: {len(calls)}, {len(calls) - sum(failed.values())} succeeded, {sum(failed.values())} "
        "failed with a named cause",
        "  " + ", ".join(f"{call} {n} ({failed[call]} failed)" for call, n in sorted(by_call.items())),
        f"faults staged: {sum(faults.values())}",
        textwrap.fill(", ".join(f"{kind} {n}" for kind, n in sorted(faults.items())), 110,
                      initial_indent="  ", subsequent_indent="  "),
        f"two pods of one resource billed together {len(together)} time(s), at most {took:.2f} s "
        f"({where}allowed {allowed:.2f} s)" if together else "two pods of one resource never billed together",
        f"promises broken: {len(violations)}" + (f" in {len({v.split()[1] for v in violations})} seed(s)"
                                                 if violations else ""),
    ]
    lines += [f"  {v}" for v in violations[:SHOWN_VIOLATIONS]]
    if violations:
        first = violations[0].split()[1]
        lines.append(f"replay one: python -m tests.chaos --seed {first} --verbose")
    return "\n".join(lines)
