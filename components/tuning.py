"""Every wait's timing, tunable the same way: by environment variables read at call time.

Operators raise them for slow links; tests lower them to run in seconds. One source, so a deadline is never
tuned three ways (module constants, constructor arguments and variables). No Pulumi and no HTTP import: the
health command and the providers share it. A bad value fails with the variable's name and what it takes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["HEALTH_POLL", "HEALTH_REQUEST_TIMEOUT", "HEALTH_UNREACHABLE", "KNOBS", "LANDING_GRACE", "POLL_INTERVAL",
           "READ_TIMEOUT", "RETRY_BACKOFF", "RUNPOD_KNOBS", "STOP_TIMEOUT", "Knob", "TuningError", "check",
           "seconds"]


class TuningError(ValueError):
    """An environment variable holds no usable number of seconds."""


@dataclass(frozen=True)
class Knob:
    """One timing: its variable, its default in seconds, and an exclusive upper bound (None: no bound)."""

    env: str
    default: float
    meaning: str
    below: float | None = None


POLL_INTERVAL = Knob("RUNPOD_POLL_INTERVAL_S", 5.0,
                     "first pause between RunPod status polls (they back off ×1.5 up to 4× this)")
# 0 means "no override": each call keeps its own read timeout (30 s, 60 s for a create).
READ_TIMEOUT = Knob("RUNPOD_READ_TIMEOUT_S", 0.0, "HTTP read timeout of every RunPod call, create included")
LANDING_GRACE = Knob("RUNPOD_LANDING_GRACE_S", 120.0,
                     "how long a create RunPod never answered may still make a pod that must be found")
STOP_TIMEOUT = Knob("RUNPOD_STOP_TIMEOUT_S", 120.0, "how long RunPod may take to stop, rename or terminate a pod")
RETRY_BACKOFF = Knob("RUNPOD_RETRY_BACKOFF_S", 0.5,
                     "backoff of a retried RunPod call (429 without Retry-After, 502–504): pauses of 0, 2×, 4×, 8× "
                     "this")
HEALTH_POLL = Knob("AUTOGLM_HEALTH_POLL_S", 1.0, "longest pause between /health polls")
# RunPod's pod proxy (Cloudflare) answers 524 to any request slower than 100 s.
HEALTH_REQUEST_TIMEOUT = Knob("AUTOGLM_HEALTH_REQUEST_TIMEOUT_S", 90.0,
                              "timeout of each health-check request after /health", below=100.0)
# RunPod's proxy accepts connections even while vLLM loads: a refusal from another machine means a wrong URL.
HEALTH_UNREACHABLE = Knob("AUTOGLM_HEALTH_UNREACHABLE_S", 120.0,
                          "how long a server on another machine may refuse connections (or its name fail to "
                          "resolve for now) before the health check gives up")
RUNPOD_KNOBS = (POLL_INTERVAL, READ_TIMEOUT, LANDING_GRACE, STOP_TIMEOUT, RETRY_BACKOFF)
KNOBS = (*RUNPOD_KNOBS, HEALTH_POLL, HEALTH_REQUEST_TIMEOUT, HEALTH_UNREACHABLE)


def seconds(knob: Knob, environ: Mapping[str, str] | None = None) -> float:
    """The knob's value now: its variable when set (and valid), else its default."""
    env = os.environ if environ is None else environ
    raw = env.get(knob.env, "").strip()
    if not raw:
        return knob.default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise TuningError(f"{knob.env}={raw!r} must be a positive number of seconds ({knob.meaning}); "
                          f"unset it for the default, {knob.default:g}")
    if knob.below is not None and value >= knob.below:
        raise TuningError(f"{knob.env}={value:g} must stay below {knob.below:g} s ({knob.meaning}: RunPod's "
                          f"proxy cuts requests at {knob.below:g} s)")
    return value


def check(knobs: Iterable[Knob] = KNOBS, environ: Mapping[str, str] | None = None) -> None:
    """Raise TuningError for the first of `knobs` whose variable is unusable: run before any work starts, so a
    typo fails at once instead of in the middle of a wait (after a pod was created, say)."""
    for knob in knobs:
        seconds(knob, environ)
