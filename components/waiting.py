"""One way to wait: read until done, with a deadline and growing pauses. No Pulumi and no HTTP import.

Every poll of the stack (a pod reaching RUNNING or a stop, pods a lost create may still make, vLLM's
/health) is `wait_until(read, done, deadline=..., pauses=...)`; what a read means and how progress is shown
stay with the caller. A call that is simply sent again after a failure that proves nothing (a rename, a
listing through an outage) is `again_until(call, retried=..., deadline=..., pause_s=...)`; deleting, which
reads back between tries, has its own loop (components/providers/deleting.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["CAP_FACTOR", "Deadline", "WaitTimedOut", "again_until", "pauses", "wait_until"]


@dataclass
class Deadline:
    """A point in monotonic time, `limit_s` after the start (or after `start`, when given)."""

    limit_s: float
    start: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return max(0.0, self.start + self.limit_s - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.start + self.limit_s


class WaitTimedOut(Exception, Generic[T]):
    """The deadline passed before `done`; `last` is the last value read."""

    def __init__(self, last: T) -> None:
        super().__init__("deadline passed")
        self.last = last


CAP_FACTOR = 4.0  # pauses grow to this many times the first, unless a cap is given


def pauses(first_s: float, factor: float = 1.5, cap_s: float | None = None) -> Iterator[float]:
    """first, first×factor, … up to `cap_s` (default: CAP_FACTOR times the first)."""
    cap = first_s * CAP_FACTOR if cap_s is None else cap_s
    pause = min(first_s, cap)
    while True:
        yield pause
        pause = min(pause * factor, cap)


def wait_until(read: Callable[[], T], done: Callable[[T], bool], *, deadline: Deadline, pauses: Iterator[float],
               failed: Callable[[T], bool] = lambda _: False, seen: Callable[[T], None] = lambda _: None,
               first: Callable[[], T] | None = None) -> T:
    """Read (first with `first`, when given) until `done(value)` or `failed(value)`, and return that value;
    the caller tells which. `seen` gets every value read (for progress). Raises `WaitTimedOut` with the last
    value once the deadline passed; never sleeps past it."""
    value = (first or read)()
    while True:
        seen(value)
        if done(value) or failed(value):
            return value
        if deadline.expired():
            raise WaitTimedOut(value)
        time.sleep(min(next(pauses), deadline.remaining()))
        value = read()


def again_until(call: Callable[[], T], *, retried: tuple[type[Exception], ...], deadline: Deadline, pause_s: float,
                on_retry: Callable[[Exception], None] = lambda _error: None) -> T:
    """`call()` until it returns. A failure of a `retried` type is sent again after `pause_s` (`on_retry` hears of
    it) while the deadline allows; the last failure, or any other, is raised."""
    while True:
        try:
            return call()
        except retried as e:
            if deadline.expired():
                raise
            on_retry(e)
        time.sleep(min(pause_s, deadline.remaining()))
