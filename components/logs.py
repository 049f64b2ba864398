"""Print a RunPod pod's logs: `python -m components.logs POD_ID [--source system|container] [--follow] [--tail N]`.

Reads `/v2/pods/{id}/logs` (server-sent events) and prints one plain line per log line. The stream stays
open after its backfill, so without `--follow` the command stops after N lines or a few quiet seconds; with
`--follow` it keeps printing (reconnecting where it left off) until Ctrl-C. The key comes from
`RUNPOD_API_KEY` (and the URL from `RUNPOD_API_URL`, for tests). Exit status: 0 done, 1 RunPod refused
(unknown pod, bad or missing key, ...), 2 bad arguments or timing variables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from components.commands import COMMAND_SOURCES
from components.runpod import Forbidden, MissingApiKey, NotFound, RunPodClient, RunPodError, Unauthorized
from components.tuning import TuningError

IDLE_S = 3.0  # without --follow: stop after this long with no new line
MAX_S = 60.0  # without --follow: stop after this long in all
FOLLOW_RECONNECT_S = 30.0  # with --follow: a stream this quiet is reopened from the last line seen


def _tail(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 5000:
        raise argparse.ArgumentTypeError("must be 0–5000 (RunPod's limit)")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.logs", description="Print a RunPod pod's logs.")
    p.add_argument("pod_id", help="the pod id, e.g. $(pulumi stack output pod_id)")
    p.add_argument("--source", choices=("system", "container"),
                   help="system: host and container lifecycle; container: the server's own output (default: both)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until Ctrl-C")
    p.add_argument("--tail", type=_tail, default=100, metavar="N", help="lines of history first (default 100)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = RunPodClient.from_env(sources=COMMAND_SOURCES)
        for event in client.pods.logs(args.pod_id, source=args.source, tail=args.tail, follow=args.follow,
                                        idle_s=FOLLOW_RECONNECT_S if args.follow else IDLE_S,
                                        max_s=None if args.follow else MAX_S):
            print(event.line if args.source else f"[{event.source}] {event.line}", flush=True)
    except MissingApiKey:
        return _fail("RUNPOD_API_KEY is not set: export your RunPod API key first")
    except TuningError as e:
        return _fail(str(e), status=2)
    except NotFound:
        return _fail(f"RunPod has no pod {args.pod_id!r} in this account (`pulumi stack output pod_id` shows "
                     "the stack's pod)")
    except (Unauthorized, Forbidden) as e:
        return _fail(f"RunPod refused the API key in RUNPOD_API_KEY ({e.status}: {e.detail})")
    except RunPodError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 0  # how --follow ends
    except BrokenPipeError:
        return 0  # piped into `head`
    return 0


def _fail(message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
