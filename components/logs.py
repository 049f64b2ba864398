"""Print a RunPod pod's or serverless worker's logs:

    python -m components.logs POD_ID [--source system|container] [--follow] [--tail N]
    python -m components.logs --endpoint ENDPOINT_ID                  # the endpoint's workers
    python -m components.logs --endpoint ENDPOINT_ID --worker WORKER_ID [--source ...] [--follow] [--tail N]

Reads `/v2/pods/{id}/logs` or `/v2/serverless/{id}/workers/{workerId}/logs` (server-sent events) and prints one
plain line per log line. The stream stays open after its backfill, so without `--follow` the command stops after
N lines or a few quiet seconds; with `--follow` it keeps printing (reconnecting where it left off) until Ctrl-C.
With `--endpoint` alone it lists the endpoint's active workers (scaled-down ones are not listed). The key comes
from `RUNPOD_API_KEY` (and the URL from `RUNPOD_API_URL`, for tests). Exit status: 0 done, 1 RunPod refused
(unknown pod, endpoint or worker, bad or missing key, ...), 2 bad arguments or timing variables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from components.commands import COMMAND_SOURCES, run
from components.runpod import LogLine, RunPodClient

IDLE_S = 3.0  # without --follow: stop after this long with no new line
MAX_S = 60.0  # without --follow: stop after this long in all
FOLLOW_RECONNECT_S = 30.0  # with --follow: a stream this quiet is reopened from the last line seen


def _tail(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 5000:
        raise argparse.ArgumentTypeError("must be 0–5000 (RunPod's limit)")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.logs",
                                description="Print a RunPod pod's logs, or a serverless worker's.")
    p.add_argument("pod_id", nargs="?", help="the pod id, e.g. $(pulumi stack output pod_id)")
    p.add_argument("--endpoint", metavar="ENDPOINT_ID",
                   help="a serverless endpoint, e.g. $(pulumi stack output endpoint_id): lists its workers")
    p.add_argument("--worker", metavar="WORKER_ID", help="with --endpoint: print this worker's logs")
    p.add_argument("--source", choices=("system", "container"),
                   help="system: host and container lifecycle; container: the server's own output (default: both)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until Ctrl-C")
    p.add_argument("--tail", type=_tail, default=100, metavar="N", help="lines of history first (default 100)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if (args.pod_id is None) == (args.endpoint is None):
        p.error("give a pod id, or --endpoint ENDPOINT_ID (with --worker WORKER_ID for a worker's logs)")
    if args.worker and not args.endpoint:
        p.error("--worker needs --endpoint ENDPOINT_ID")

    def body() -> int:
        client = RunPodClient.from_env(sources=COMMAND_SOURCES)
        if args.endpoint and not args.worker:
            _list_workers(client, args.endpoint)
            return 0
        try:
            for event in _events(client, args):
                print(event.line if args.source else f"[{event.source}] {event.line}", flush=True)
        except (KeyboardInterrupt, BrokenPipeError):
            pass  # how --follow ends; or piped into `head`
        return 0

    return run(body, not_found=lambda: _not_found(args))


def _events(client: RunPodClient, args: argparse.Namespace) -> Iterator[LogLine]:
    bounds = {"source": args.source, "tail": args.tail, "follow": args.follow,
              "idle_s": FOLLOW_RECONNECT_S if args.follow else IDLE_S, "max_s": None if args.follow else MAX_S}
    if args.endpoint:
        return client.endpoints.worker_logs(args.endpoint, args.worker, **bounds)
    return client.pods.logs(args.pod_id, **bounds)


def _list_workers(client: RunPodClient, endpoint_id: str) -> None:
    found = client.endpoints.workers(endpoint_id)
    if not found.workers:
        print(f"endpoint {endpoint_id}: no active worker (scaled to zero; a request wakes one)")
        return
    print(f"{'WORKER':<24} {'STATUS':<13} {'GPU':<32} {'DATA CENTER':<12} UPTIME")
    for w in found.workers:
        uptime = "-" if w.uptime_s is None else f"{w.uptime_s} s"
        stale = " (stale: an older release)" if w.is_stale else ""
        print(f"{w.id:<24} {w.status:<13} {w.gpu_type_id or '-':<32} {w.data_center_id or '-':<12} {uptime}{stale}")
    print(f"logs of one: python -m components.logs --endpoint {endpoint_id} --worker {found.workers[0].id}")


def _not_found(args: argparse.Namespace) -> str:
    if args.worker:
        return (f"RunPod has no worker {args.worker!r} on endpoint {args.endpoint!r} (`python -m components.logs "
                f"--endpoint {args.endpoint}` lists its workers)")
    if args.endpoint:
        return (f"RunPod has no serverless endpoint {args.endpoint!r} in this account (`pulumi stack output "
                "endpoint_id` shows the stack's)")
    return f"RunPod has no pod {args.pod_id!r} in this account (`pulumi stack output pod_id` shows the stack's pod)"


if __name__ == "__main__":
    sys.exit(main())
