"""The one poll loop and the one send-again loop (components/waiting.py), on plain functions."""

from __future__ import annotations

import pytest

from components.waiting import Deadline, again_until


def test_again_until_sends_a_call_again_after_retried_failures_and_raises_the_last_at_the_deadline() -> None:
    tries: list[int] = []
    heard: list[str] = []

    def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError(f"try {len(tries)}")
        return "done"

    assert again_until(flaky, retried=(ConnectionError,), deadline=Deadline(5), pause_s=0.01,
                       on_retry=lambda e: heard.append(str(e))) == "done"
    assert heard == ["try 1", "try 2"]

    def never() -> str:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError, match="down"):
        again_until(never, retried=(ConnectionError,), deadline=Deadline(0.05), pause_s=0.01)
    with pytest.raises(ValueError):  # not retried: raised at once
        again_until(lambda: int("x"), retried=(ConnectionError,), deadline=Deadline(5), pause_s=0.01)
