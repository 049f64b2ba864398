"""Watching a serverless endpoint's workers while the health check waits for its load balancer. No Pulumi.

A load-balancer endpoint with no ready worker answers 400 "no workers available" (RunPod holds a request up to
2 minutes for a worker first); each poll of `/ping` is a request, which wakes a worker when none runs. Meanwhile
`GET /v2/serverless/{id}/workers` says what the workers do: THROTTLED (waiting for capacity in the pools),
INITIALIZING (pulling the image, loading the model), IDLE or RUNNING (ready), UNHEALTHY (failing the health
checks). `WorkerWatch` adds that to each progress line, fails at once when the only workers are UNHEALTHY (with
the last lines of the worker's system log), and says what to change when the deadline passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from components import tuning
from components.health.probing import NotComing
from components.names import setting
from components.runpod import RunPodClient, RunPodError, WorkerInfo, Workers
from components.runpod.credentials import scrub

__all__ = ["WorkerWatch"]

LOG_LINES = 5


@dataclass
class WorkerWatch:
    """The workers of `endpoint_id`, read at most every RUNPOD_POLL_INTERVAL_S while the probe waits."""

    client: RunPodClient
    endpoint_id: str
    read_at: float = float("-inf")
    summary: str = "no worker seen yet (the first request wakes one)"
    seen: set[str] = field(default_factory=set)  # statuses seen at the last read

    def __call__(self, note: str) -> str:
        if time.monotonic() - self.read_at >= tuning.seconds(tuning.POLL_INTERVAL):
            self.read_at = time.monotonic()
            try:
                self._look(self.client.endpoints.workers(self.endpoint_id))
            except RunPodError as e:
                self.summary = f"workers unknown ({e.status or 'no answer'} from RunPod)"
        return f"{note}; {self.summary}"

    def _look(self, workers: Workers) -> None:
        self.seen = {w.status for w in workers.workers}
        if workers.workers and self.seen == {"UNHEALTHY"}:
            raise NotComing(self._unhealthy(workers.workers[0]))
        counts = ", ".join(f"{workers.count(s)} {s}" for s in ("THROTTLED", "INITIALIZING", "IDLE", "RUNNING",
                                                                "UNHEALTHY") if workers.count(s))
        placed = sorted({f"{w.gpu_type_id} in {w.data_center_id}" for w in workers.workers if w.gpu_type_id})
        self.summary = (f"workers: {counts}" + (f" (on {'; '.join(placed)})" if placed else "")
                        if workers.workers else "no worker running (a request wakes one)")

    def _unhealthy(self, worker: WorkerInfo) -> str:
        where = f" on {worker.gpu_type_id} in {worker.data_center_id}" if worker.gpu_type_id else ""
        return (f"worker {worker.id} of endpoint {self.endpoint_id}{where} is UNHEALTHY: its server fails RunPod's "
                f"health checks (GET /ping){self._last_lines(worker.id)}. Read its log with `python -m "
                f"components.logs --endpoint {self.endpoint_id} --worker {worker.id}`; a worker that cannot run the "
                f"image's CUDA means RunPod placed it below the floor, one that dies while loading often lacks VRAM "
                f"(a bigger GPU in {setting('gpuTypes')}, or a lower {setting('maxModelLen')})")

    def _last_lines(self, worker_id: str) -> str:
        # A start script may print its env (the HF token among it): the endpoint's env values are scrubbed like
        # the RunPod key, and without them no line is quoted at all.
        try:
            env = self.client.endpoints.get(self.endpoint_id).env.values()
            lines = [scrub(e.line, *env) for e in self.client.endpoints.worker_logs(
                self.endpoint_id, worker_id, source="system", tail=LOG_LINES, idle_s=0.5, max_s=3.0)]
        except RunPodError:
            return ""
        return f"; its system log ends: {' | '.join(lines[-LOG_LINES:])}" if lines else ""

    def advice(self) -> str:
        if "THROTTLED" in self.seen:
            return (f"The workers stayed THROTTLED: the serverless pools of {setting('gpuTypes')} had no free GPU at "
                    "the image's CUDA floor. Add GPU types (more pools) to gpuTypes, or retry later; "
                    f"{setting('healthTimeoutMinutes')} sets how long to wait")
        if "INITIALIZING" in self.seen:
            return (f"A worker was still INITIALIZING (pulling the image, downloading and loading the model): raise "
                    f"{setting('healthTimeoutMinutes')}, or keep the weights on a network volume "
                    f"({setting('networkVolumeId')}); `python -m components.logs --endpoint {self.endpoint_id}` "
                    "lists the workers")
        return (f"No worker became ready: check the endpoint's workers (`python -m components.logs --endpoint "
                f"{self.endpoint_id}`) and that {setting('workersMax')} is above 0 at RunPod")
