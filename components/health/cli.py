"""`python -m components.health`: prove that a vLLM server answers, from a terminal.

Imports no Pulumi (the command starts in a fraction of a second). Exit 0 healthy, 1 unhealthy (the reason
on the last line), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from components import tuning
from components.health.probing import DEFAULT_TIMEOUT_S, probe, tuning_from_env
from components.health.target import Target
from components.runpod.credentials import scrub

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m components.health",
        description="Prove that a vLLM server answers: /health, /v1/models, a chat and an image chat.",
        epilog=f"Exit 0 healthy, 1 unhealthy (the reason on the last line), 2 bad usage. A name that does not "
               "resolve or a TLS failure ends the wait at once. "
               f"{tuning.HEALTH_POLL.env}, {tuning.HEALTH_REQUEST_TIMEOUT.env} and {tuning.HEALTH_UNREACHABLE.env} "
               f"tune the /health poll cap (default {tuning.HEALTH_POLL.default:g} s), the per-request timeout "
               f"(default {tuning.HEALTH_REQUEST_TIMEOUT.default:g} s) and how long another machine may refuse "
               f"connections (default {tuning.HEALTH_UNREACHABLE.default:g} s).")
    p.add_argument("--base-url", required=True, help="server URL, with or without /v1, "
                                                     "e.g. https://<podId>-8000.proxy.runpod.net")
    p.add_argument("--model", required=True, help="the served model name (the pod's --served-model-name)")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the vLLM API key (with "
                                                       "--serverless, the RunPod API key)")
    p.add_argument("--serverless", action="store_true",
                   help="a RunPod Serverless endpoint (https://ID.api.runpod.ai): the key goes to every path, and "
                        "health is /ping (the first request wakes a worker)")
    p.add_argument("--no-image", action="store_true", help="skip the chat request with an image")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="how long to wait for /health (default %(default)g)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)

    def usage(message: str) -> NoReturn:
        parser.print_usage(err)
        err.write(f"{parser.prog}: error: {message}\n")
        raise SystemExit(2)

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env) or usage(
            f"--api-key-env {args.api_key_env}: that environment variable is not set or empty")
    if not args.timeout > 0:
        usage(f"--timeout {args.timeout:g}: give a positive number of seconds")
    if args.serverless and api_key is None:
        usage("--serverless needs --api-key-env naming the variable that holds the RunPod API key")
    try:
        request_timeout_s, polling = tuning_from_env()
        target = Target.serverless(args.base_url, api_key) if args.serverless and api_key else args.base_url
        report = probe(target, args.model, api_key=api_key, image_check=not args.no_image,
                       timeout_s=args.timeout, request_timeout_s=request_timeout_s, polling=polling,
                       log=lambda line: print(line, file=err, flush=True))
    except ValueError as e:  # bad arguments; a library's ValueError may quote its input, key included
        usage(scrub(str(e), api_key))
    if args.json:
        out.write(json.dumps(report.as_dict(), indent=2) + "\n")
        if not report.healthy:
            err.write(f"unhealthy: {report.reason}\n")
    else:
        out.write(report.summary() + "\n")
    return 0 if report.healthy else 1
