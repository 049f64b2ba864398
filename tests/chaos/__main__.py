"""`python -m tests.chaos`: run many seeds and print the summary, or replay one seed step by step."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from tests.chaos.report import summary
from tests.chaos.runner import run_seeds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--seeds", type=int, default=50, help="how many seeds to run (default 50)")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--seed", type=int, help="replay this one seed")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, each with its own provider host")
    parser.add_argument("--verbose", action="store_true", help="print every step, fault and outcome")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    started = time.monotonic()

    def progress(outcome_text: str) -> None:
        print(outcome_text, file=sys.stderr if not args.verbose else sys.stdout, flush=True)

    outcomes = run_seeds(seeds, jobs=max(1, args.jobs), on_done=progress, verbose=args.verbose)
    print(summary(outcomes, time.monotonic() - started, max(1, args.jobs)))
    return 1 if any(o.violations for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
