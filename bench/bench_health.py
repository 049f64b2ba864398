"""How late does the probe notice a server that just became ready? Target: ≤ 2 s.

Measures, with the production polling (no test tuning), the time from the loopback vLLM fake turning healthy to
`probe()` returning a healthy report (that includes /version, /v1/models and both chat requests). Two ways a
server is "not yet": connections refused (vLLM still loading) and 502 from a proxy in front of it. Load delays
are spread over a poll period so the runs sample every phase of the back-off.

    venv/bin/python -m bench.bench_health [--runs 6] [--json]

Exit 0 when the worst run meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.health import Polling, probe
from tests.fakes.vllm import FakeVllm

TARGET_S = 2.0
MODEL = "autoglm-phone-9b"


def one_run(delay_s: float, scenario: str) -> float:
    """Seconds from the fake becoming healthy to the probe's healthy report."""
    if scenario == "refused":
        fake = FakeVllm(load_delay_s=delay_s)
    else:
        fake = FakeVllm(unavailable_s=delay_s, unavailable_status=502)
    with fake:
        report = probe(fake.base_url, MODEL, timeout_s=60, polling=Polling())
        done = time.monotonic()
        assert report.healthy, report.reason
        assert fake.listening_at is not None
        became_healthy = fake.listening_at + (delay_s if scenario == "proxy-502" else 0.0)
    return done - became_healthy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="runs per scenario (default %(default)s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    for scenario in ("refused", "proxy-502"):
        delays = [2.0 + Polling().max_s * i / args.runs for i in range(args.runs)]
        results[scenario] = [one_run(d, scenario) for d in delays]
    worst = max(max(v) for v in results.values())
    summary = {name: {"median_s": round(statistics.median(v), 3), "max_s": round(max(v), 3), "runs": len(v)}
               for name, v in results.items()}
    if args.json:
        print(json.dumps({"target_s": TARGET_S, "worst_s": round(worst, 3), "scenarios": summary}, indent=2))
    else:
        for name, s in summary.items():
            print(f"{name:10} median {s['median_s']:.3f} s   max {s['max_s']:.3f} s   ({s['runs']} runs)")
        print(f"worst {worst:.3f} s; target ≤ {TARGET_S:.1f} s: {'met' if worst <= TARGET_S else 'MISSED'}")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
