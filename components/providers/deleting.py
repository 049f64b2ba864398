"""Deleting a RunPod resource until RunPod confirms it is gone, for pods, endpoints and volumes alike.

RunPod has been seen to answer a DELETE with a plain 500 (or not at all) whether or not it deleted, so one failed
DELETE proves nothing: the resource is read back, and the DELETE is sent again after a failure worth retrying
until RunPod confirms (a 204, or a read that says 404 or that it is gone) or RUNPOD_STOP_TIMEOUT_S passes. The
result claims no more than the last look showed; each resource words it for its own messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from components import tuning
from components.runpod import TRANSIENT, Conflict, NotFound, RunPodError, Unauthorized
from components.waiting import Deadline

__all__ = ["RETRIED", "Deletion", "delete_until_gone"]

# Failures after which the same request (a DELETE, a stop, a rename) may well succeed: RunPod's own advice for
# 5xx and 429, a dropped answer, and a resource busy with another transition.
RETRIED: tuple[type[RunPodError], ...] = (*TRANSIENT, Conflict)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Deletion(Generic[T]):
    """How deleting went: `deleted` (a DELETE of ours did it), `gone` (it was gone already), `there` (the last
    read still showed it) or `unknown` (the DELETE and the read both failed)."""

    outcome: Literal["deleted", "gone", "there", "unknown"]
    error: RunPodError | None = None  # the last failed DELETE
    last: T | None = None  # the last read, when it showed the resource still there
    look_error: RunPodError | None = None  # the last read's failure

    @property
    def confirmed(self) -> bool:
        return self.outcome in ("deleted", "gone")


def delete_until_gone(delete: Callable[[], object], read: Callable[[], T], *,
                      retried: tuple[type[RunPodError], ...],
                      gone: Callable[[T], bool] = lambda _found: False) -> Deletion[T]:
    """`delete()` until confirmed; `read()` after each failure (NotFound or `gone(it)`: the DELETE went through).
    Failures of `retried` types are sent again; any other ends the attempt with what the read showed."""
    deadline = Deadline(tuning.seconds(tuning.STOP_TIMEOUT))
    error: RunPodError | None = None
    while True:
        try:
            delete()
            return Deletion("deleted", error)
        except NotFound:  # after a failed DELETE, ours went through
            return Deletion("gone" if error is None else "deleted", error)
        except Unauthorized as e:  # a read would be refused as well
            return Deletion("unknown", e, look_error=e)
        except RunPodError as e:
            error = e
        last, look_error = _look(lambda: _unless_gone(read(), gone))
        if last is None and look_error is None:
            return Deletion("deleted", error)
        if not isinstance(error, retried) or deadline.expired():
            return Deletion("there" if last is not None else "unknown", error, last, look_error)
        time.sleep(min(tuning.seconds(tuning.POLL_INTERVAL), deadline.remaining()))


def _unless_gone(found: T, gone: Callable[[T], bool]) -> T | None:
    return None if gone(found) else found


def _look(read: Callable[[], R | None]) -> tuple[R | None, RunPodError | None]:
    """The resource as RunPod shows it now: (None, None) when it is gone."""
    try:
        return read(), None
    except NotFound:
        return None, None
    except RunPodError as e:
        return None, e
