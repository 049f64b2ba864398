"""Seeds run one after another, `jobs` at a time; each seed gets its own fake and provider host."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

from tests.chaos.lifecycle import Outcome, run_plan
from tests.chaos.plan import plan

__all__ = ["run_seeds"]


def run_seeds(seeds: Sequence[int], *, jobs: int = 1, on_done: Callable[[str], None] = lambda _: None,
              verbose: bool = False) -> list[Outcome]:
    todo: queue.Queue[int] = queue.Queue()
    for seed in seeds:
        todo.put(seed)
    done: list[Outcome] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                seed = todo.get_nowait()
            except queue.Empty:
                return
            outcome = run_plan(plan(seed))
            with lock:
                done.append(outcome)
                on_done(_report(outcome, verbose))

    threads = [threading.Thread(target=worker, name=f"chaos-{i}") for i in range(min(jobs, len(seeds)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(done, key=lambda o: o.seed)


def _report(outcome: Outcome, verbose: bool) -> str:
    status = f"{len(outcome.violations)} promise(s) broken" if outcome.violations else "clean"
    head = f"seed {outcome.seed}: {status} in {outcome.seconds:.1f} s"
    return "\n".join([head, *outcome.trace]) if verbose or outcome.violations else head
