"""RunPod's log streams (pods and serverless workers): server-sent events read with bounds.

The stream stays open after its backfill, so unless `follow` a read stops after `limit` events, `idle_s`
without an event, or `max_s` in all. With `follow` it reconnects with `Last-Event-ID` whenever the stream
drops or idles, until the caller stops. A pod's log may quote its environment (a start script that echoes
it, an error that prints the failing line): each line comes back without the transport's secrets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import requests
import urllib3

from components.runpod.transport import Transport

__all__ = ["LogLine", "read_log_stream"]

RECONNECT_PAUSE_S = 2.0  # with follow: the least time between two opens of a stream that brought nothing


@dataclass(frozen=True)
class LogLine:
    """One event of a `/logs` stream: `{source, line, ts}`, plus the SSE id to resume from."""

    source: str
    line: str
    ts: str
    event_id: str = ""


def read_log_stream(transport: Transport, path: str, *, source: str | None = None, tail: int = 100,
                    follow: bool = False, idle_s: float = 2.0, max_s: float | None = 30.0) -> Iterator[LogLine]:
    params: dict[str, str] = {"tail": str(tail)}
    if source:
        params["source"] = source
    reader = _SseReader(transport, path, params, follow=follow, idle_s=idle_s, max_s=max_s, limit=tail)
    yield from reader.events()


class _SseReader:
    def __init__(self, transport: Transport, path: str, params: Mapping[str, str], *, follow: bool,
                 idle_s: float, max_s: float | None, limit: int) -> None:
        self.transport, self.path, self.params = transport, path, dict(params)
        self.follow, self.idle_s, self.max_s, self.limit = follow, idle_s, max_s, limit
        self.last_event_id: str | None = None

    def events(self) -> Iterator[LogLine]:
        started = time.monotonic()
        seen = 0
        while True:
            before, opened = seen, time.monotonic()
            response = self.transport.open_stream(self.path, self.params, self.last_event_id, self.idle_s)
            try:
                for event in self._read(response, started):
                    seen += 1
                    yield event
                    if not self.follow and self.limit and seen >= self.limit:
                        return
            finally:
                response.close()
            if not self.follow or self._over_time(started):
                return
            if seen == before:  # a stream that closed at once with nothing new (a stopped pod): pause, not a loop
                time.sleep(max(0.0, min(self.idle_s, RECONNECT_PAUSE_S) - (time.monotonic() - opened)))

    def _read(self, response: requests.Response, started: float) -> Iterator[LogLine]:
        last_event = time.monotonic()
        event_id, data = "", []
        try:
            for line in _lines(response):
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    event = _log_event("\n".join(data), event_id, self.transport.scrub)
                    event_id, data = "", []
                    if event is not None:
                        self.last_event_id = event.event_id or self.last_event_id
                        last_event = time.monotonic()
                        yield event
                # Keep-alive comments (": ...") reset the socket timeout but not the idle bound.
                if (not self.follow and time.monotonic() - last_event > self.idle_s) or self._over_time(started):
                    return
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError):
            return  # the idle bound (socket read timeout) or a dropped stream; `follow` reconnects

    def _over_time(self, started: float) -> bool:
        return self.max_s is not None and time.monotonic() - started > self.max_s


def _lines(response: requests.Response) -> Iterator[str]:
    """The body's lines as they arrive. `iter_lines` would wait for a full 512-byte chunk, which a quiet
    log stream may take minutes to fill; `read1` returns whatever the socket has."""
    pending = b""
    while chunk := response.raw.read1(65536):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def _log_event(data: str, event_id: str, scrub: Callable[[str], str]) -> LogLine | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    return LogLine(source=str(payload.get("source", "")), line=scrub(str(payload.get("line", ""))),
                   ts=str(payload.get("ts", "")), event_id=event_id)
