"""Injected misbehaviour: what RunPod (or the proxy in front of it) has been seen to do to a request.

A `Fault` fits the next `times` requests whose method and path (a regex, full match) match. It decides two
things. Whether the request is acted on: not at all by default (the fault answers instead); first, then
answered, with `after_apply` (a create that made its pod, a DELETE that ended it); or, for a create, accepted
now with its pod appearing `land_after_s` later (the GPUs held meanwhile, so a retry may find no capacity).
And what is answered, after `delay_s`: `status` as problem+json (or a proxy's HTML page with `html`, with
`Retry-After` when given), nothing at all with `drop` (the connection closes: a reset), or, with `status` None,
the real answer, late. A delay longer than the client's read timeout is an answer that never arrives.
`echo_env` words the detail with the request's env (RunPod's 400s have quoted it); `below_floor` places a
create on a host below the CUDA floor it asked for.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from tests.fakes.runpod.problem import Problem

__all__ = ["HTML_502", "Fault", "FaultBook"]

HTML_502 = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
            "</center><hr><center>cloudflare</center></body></html>")


@dataclass
class Fault:
    method: str
    path: str
    status: int | None = 500
    times: int = 1
    retry_after: int | None = None
    html: bool = False
    delay_s: float = 0.0
    detail: str | None = None
    after_apply: bool = False
    land_after_s: float | None = None
    drop: bool = False
    echo_env: bool = False
    below_floor: bool = False

    def fits(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and re.fullmatch(self.path, path) is not None

    @property
    def acts_first(self) -> bool:
        """The request is acted on before the (faulty) answer."""
        return self.after_apply or self.land_after_s is not None

    @property
    def answers(self) -> bool:
        """The fault replaces the real answer (with an error, or with nothing)."""
        return self.status is not None or self.drop

    def problem(self, body: Any) -> Problem:
        assert self.status is not None
        detail = self.detail or ("rate limit exceeded for the minute window" if self.status == 429
                                 else "upstream request failed")
        if self.echo_env and isinstance(body, dict):
            detail = f"{detail}: env {json.dumps(body.get('env') or {})}"
        return Problem(self.status, detail)


class FaultBook:
    """The faults waiting for requests, in the order they were injected."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault that fits, used once."""
        with self._lock:
            for fault in self.faults:
                if fault.fits(method, path):
                    fault.times -= 1
                    return fault
        return None
