"""Benchmark: RunPod calls and wall time while `create` waits for a pod that takes 10 minutes to start.

The RunPod fake runs on a scaled clock (1 simulated second = `--scale` real seconds) and the provider's poll
interval is scaled the same way (`RUNPOD_POLL_INTERVAL_S`), so the run takes seconds. The provider runs in
the SDK's real dynamic-provider host, as under `pulumi up`.

Targets: at most 60 RunPod calls for the whole create, and RUNNING seen within one poll interval (the
longest interval the backoff reaches) of the moment the pod turned RUNNING.

    venv/bin/python -m bench.bench_pod_wait [--scale 0.01]
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time

from components import tuning
from components.providers.pod import POD_TYPE, PodProvider
from components.waiting import CAP_FACTOR
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import provider_host

SIMULATED_START_S = 600.0  # 1 minute provisioning + 9 minutes pulling the image and starting vLLM
MAX_CALLS = 60
POLL_INTERVAL_S = tuning.POLL_INTERVAL.default


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--scale", type=float, default=0.01, help="real seconds per simulated second")
    scale = args.parse_args().scale
    timings = Timings(provisioning_s=60 * scale, starting_s=(SIMULATED_START_S - 60) * scale)
    with FakeRunPod(timings=timings) as fake:
        env = {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key,
               "RUNPOD_POLL_INTERVAL_S": str(POLL_INTERVAL_S * scale)}
        with provider_host(PodProvider(), POD_TYPE, env=env) as host:
            inputs, _ = host.check({"name": "autoglm-runpod-bench-pod", "image": "vllm/vllm-openai:v0.11.0",
                                    "gpu_type_ids": ["NVIDIA L40S"], "min_cuda_version": "12.9"})
            started = time.monotonic()
            pod_id, outs = host.create(inputs)
            wall_s = time.monotonic() - started
        calls = list(fake.requests_log)
        running_at = next(at for status, at in fake.pods[pod_id].history if status == "RUNNING")
    seen_at = min(r.at for r in calls if r.method == "GET" and r.path == f"/v2/pods/{pod_id}" and r.at >= running_at)
    lag_s = (seen_at - running_at) / scale
    longest_interval_s = POLL_INTERVAL_S * CAP_FACTOR
    by_kind = collections.Counter(f"{r.method} {re.sub(pod_id, '{id}', r.path)}" for r in calls)

    print(f"pod {pod_id}: {outs['status']} after {SIMULATED_START_S:.0f} simulated s "
          f"(scale {scale:g}: {wall_s:.2f} s of wall time, {wall_s / scale:.0f} simulated s in create)")
    for kind, count in sorted(by_kind.items()):
        print(f"  {count:4d}  {kind}")
    ok_calls = len(calls) <= MAX_CALLS
    ok_lag = lag_s <= longest_interval_s
    print(f"RunPod calls: {len(calls)} (target ≤ {MAX_CALLS}) {'PASS' if ok_calls else 'FAIL'}")
    print(f"RUNNING seen {lag_s:.1f} simulated s after it happened (target ≤ one poll interval, "
          f"{longest_interval_s:.0f} s) {'PASS' if ok_lag else 'FAIL'}")
    return 0 if ok_calls and ok_lag else 1


if __name__ == "__main__":
    sys.exit(main())
