"""A thin client of RunPod REST v2 (`https://api.runpod.io/v2/...`), the only module here that speaks HTTP.

REST v1 is retired and GraphQL retires early 2027, so this targets v2 only. Every call builds its own
`requests.Session` (the callers are dynamic providers, pickled into state) with a Bearer key, connect and
read timeouts, and urllib3 `Retry` for what is safe to repeat: 429 (honouring `Retry-After`) everywhere, and
502/503/504 and dropped connections only for idempotent calls. A create is never blindly retried on 5xx:
RunPod has been seen to make the pod and still answer 500, so the caller must look the pod up by name.

Errors come back as RFC 9457 problem+json; they are mapped to typed exceptions that keep RunPod's `detail`.
The API key never appears in an exception, a log line or a repr.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

DEFAULT_API_URL = "https://api.runpod.io"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# RunPod's own sample gives a create 60 s: placement can be slow, and a timeout there costs a lookup.
CREATE_READ_TIMEOUT_S = 60.0
RETRIES = 4
BACKOFF_FACTOR_S = 0.5
# A Retry-After longer than this (an hour or day window) is reported, not slept through.
MAX_RETRY_AFTER_S = 60.0

# Capacity exhaustion has no machine-readable code in v2, only these human-readable details.
_NO_CAPACITY = re.compile(r"no longer any instances available|not enough free gpus|no (?:gpu )?capacity",
                          re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


class RunPodError(Exception):
    """A RunPod call failed; `detail` is RunPod's own explanation (problem+json `detail`)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "",
                 errors: tuple[str, ...] = (), retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.retry_after_s = retry_after_s


class MissingApiKey(RunPodError):
    """No RunPod API key was configured."""


class InvalidApiKey(RunPodError):
    """The configured key cannot be a RunPod key (whitespace or a non-printable character): refused before
    any request, because HTTP libraries quote a bad header value, key included, in their errors."""


class InsecureApiUrl(RunPodError):
    """The API URL would send the key in clear (plain http to a host that is not this machine)."""


class InvalidRequest(RunPodError):
    """422: the body breaks the published contract; never retried."""


class BadRequest(RunPodError):
    """400: the body matches the contract but RunPod refused it (a cross-field rule, usually)."""


class NoCapacity(BadRequest):
    """400 whose detail says no machine (or no GPU on the pod's host) is free for this request."""


class InsufficientBalance(RunPodError):
    """402: the account has no credit left; no candidate will succeed."""


class Unauthorized(RunPodError):
    """401: the key is missing, malformed, expired or invalid."""


class Forbidden(RunPodError):
    """403: the key is valid but may not do this."""


class NotFound(RunPodError):
    """404: no such pod (or GPU type) for this account."""


class Conflict(RunPodError):
    """409: the action is not valid in the pod's current status."""


class RateLimited(RunPodError):
    """429 that outlasted the retries (or asked for a wait longer than we sleep through)."""


class ServerError(RunPodError):
    """5xx, including a proxy's HTML 502, after the retries allowed for this call."""


class TransportError(RunPodError):
    """No HTTP answer: connection refused or dropped, or a timeout. A create may still have happened."""


_BY_STATUS: dict[int, type[RunPodError]] = {
    400: BadRequest, 401: Unauthorized, 402: InsufficientBalance, 403: Forbidden, 404: NotFound,
    409: Conflict, 422: InvalidRequest, 429: RateLimited,
}


@dataclass(frozen=True)
class PodInfo:
    """The fields of a v2 `Pod` this project reads, normalised once at the boundary."""

    id: str
    name: str
    status: str
    actions: tuple[str, ...] = ()
    image: str = ""
    args: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # carries HF/vLLM keys
    ports: tuple[str, ...] = ()
    disk_gb: int | None = None
    gpu_type_id: str | None = None
    gpu_count: int | None = None
    cloud: str | None = None
    data_center_id: str | None = None
    cuda_version: str | None = None
    cost_per_hr: float = 0.0
    registry_auth_id: str | None = None
    network_volume_id: str | None = None
    mount_path: str | None = None
    created_at: str | None = None
    started_at: str | None = None

    @classmethod
    def from_api(cls, pod: Mapping[str, Any]) -> PodInfo:
        gpu = pod.get("gpu") or {}
        network = ((pod.get("mounts") or {}).get("network") or [{}])[0]
        persistent = (pod.get("mounts") or {}).get("persistent") or {}
        return cls(
            id=str(pod["id"]), name=str(pod.get("name", "")), status=str(pod.get("status", "")),
            actions=tuple(pod.get("actions") or ()), image=str(pod.get("image") or ""),
            args=str(pod.get("args") or ""), env=dict(pod.get("env") or {}),
            ports=tuple(pod.get("ports") or ()), disk_gb=_opt_int(pod.get("disk")),
            gpu_type_id=gpu.get("id"), gpu_count=_opt_int(gpu.get("count")), cloud=pod.get("cloud"),
            data_center_id=pod.get("dataCenterId"), cuda_version=pod.get("cudaVersion"),
            cost_per_hr=float(pod.get("cost") or 0.0), registry_auth_id=pod.get("registry"),
            network_volume_id=network.get("volumeId"), mount_path=network.get("path") or persistent.get("path"),
            created_at=pod.get("createdAt"), started_at=pod.get("startedAt"),
        )


@dataclass(frozen=True)
class LogLine:
    """One event of the `/logs` stream: `{source, line, ts}`, plus the SSE id to resume from."""

    source: str
    line: str
    ts: str
    event_id: str = ""


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class _RunPodRetry(Retry):
    """urllib3 Retry that gives up, instead of sleeping, when Retry-After names a long window (hour, day):
    the caller then gets `RateLimited` with the wait, rather than a command that hangs for an hour."""

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: ConnectionPool | None = None, _stacktrace: TracebackType | None = None) -> Self:
        wait = _seconds(response.headers.get("Retry-After")) if response is not None else None
        if wait is not None and wait > MAX_RETRY_AFTER_S and _pool is not None:
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {wait:g} s is too long to wait"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds (v2 sends integer seconds); None when absent or not a number."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RunPodClient:
    """REST v2 calls used by the pod provider and the CLIs. Holds only settings; no open connection."""

    def __init__(self, api_key: str | None, base_url: str | None = None, *,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S, read_timeout_s: float = READ_TIMEOUT_S,
                 create_read_timeout_s: float = CREATE_READ_TIMEOUT_S, retries: int = RETRIES,
                 backoff_factor_s: float = BACKOFF_FACTOR_S) -> None:
        self._api_key = api_key or ""
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        check_api_url(self.base_url)
        if self._api_key:
            check_api_key(self._api_key)
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.create_read_timeout_s = create_read_timeout_s
        self.retries = retries
        self.backoff_factor_s = backoff_factor_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunPodClient:
        """Key from `RUNPOD_API_KEY`, URL from `RUNPOD_API_URL`, read timeout from `RUNPOD_READ_TIMEOUT_S`."""
        env = os.environ if environ is None else environ
        client = cls(env.get("RUNPOD_API_KEY"), env.get("RUNPOD_API_URL"))
        client.set_read_timeout(read_timeout_from_env(env))
        return client

    def set_read_timeout(self, seconds: float | None) -> None:
        """Override every read timeout, create included; None keeps the defaults."""
        if seconds:
            self.read_timeout_s = self.create_read_timeout_s = seconds

    def without_retries(self) -> RunPodClient:
        """A copy that sends each call once (no retry of 429, 5xx or a dropped connection): for callers that
        poll and so retry on their own schedule."""
        clone = copy.copy(self)
        clone.retries = 0
        return clone

    def __repr__(self) -> str:
        return f"RunPodClient(base_url={self.base_url!r}, api_key={'***' if self._api_key else None})"

    # Pods -----------------------------------------------------------------------------------------------

    def list_pods(self) -> list[PodInfo]:
        body = self._json("GET", "/v2/pods")
        return [PodInfo.from_api(p) for p in body.get("pods", [])]

    def get_pod(self, pod_id: str) -> PodInfo:
        return PodInfo.from_api(self._json("GET", f"/v2/pods/{_seg(pod_id)}"))

    def create_pod(self, body: Mapping[str, Any]) -> PodInfo:
        """POST /v2/pods. 429 is retried (nothing was made); 5xx and timeouts are raised, never retried."""
        return PodInfo.from_api(self._json("POST", "/v2/pods", body=body, idempotent=False,
                                           read_timeout_s=self.create_read_timeout_s))

    def update_pod(self, pod_id: str, body: Mapping[str, Any]) -> PodInfo:
        """PATCH /v2/pods/{id}: only the fields present change. Editing a running pod resets it."""
        return PodInfo.from_api(self._json("PATCH", f"/v2/pods/{_seg(pod_id)}", body=body))

    def pod_action(self, pod_id: str, action: str) -> PodInfo | None:
        """POST /v2/pods/{id}/action. Repeating start/stop lands on the same state, so 5xx is retried;
        a repeat that finds the work done answers 409, which the caller handles."""
        answer = self._json("POST", f"/v2/pods/{_seg(pod_id)}/action", body={"action": action})
        return PodInfo.from_api(answer) if answer else None

    def terminate_pod(self, pod_id: str) -> None:
        """DELETE /v2/pods/{id} (204). Raises NotFound when the pod is already gone."""
        self._json("DELETE", f"/v2/pods/{_seg(pod_id)}")

    def list_gpu_types(self, *, count: int = 1, cloud: str = "SECURE",
                       min_cuda_version: str | None = None) -> list[dict[str, Any]]:
        """GET /v2/catalog/gpus with current pod availability per GPU type (and per CUDA version)."""
        params = {"include": "AVAILABILITY", "product": "POD", "count": str(count), "cloud": cloud}
        if min_cuda_version:
            params["minCudaVersion"] = min_cuda_version
        return list(self._json("GET", "/v2/catalog/gpus", params=params).get("gpus", []))

    def stream_logs(self, pod_id: str, *, source: str | None = None, tail: int = 100,
                    follow: bool = False, idle_s: float = 2.0, max_s: float | None = 30.0,
                    ) -> Iterator[LogLine]:
        """Read `/v2/pods/{id}/logs` (SSE). The stream stays open after its backfill, so unless `follow`
        the read stops after `tail` events, `idle_s` without an event, or `max_s` in all. With `follow`
        it reconnects with `Last-Event-ID` whenever the stream drops or idles, until the caller stops."""
        params: dict[str, str] = {"tail": str(tail)}
        if source:
            params["source"] = source
        reader = _SseReader(self, pod_id, params, follow=follow, idle_s=idle_s, max_s=max_s, limit=tail)
        yield from reader.events()

    # Transport ------------------------------------------------------------------------------------------

    def _session(self, idempotent: bool) -> requests.Session:
        if not self._api_key:
            raise MissingApiKey("no RunPod API key: set it with `pulumi config set --secret runpodApiKey ...` "
                                "or export RUNPOD_API_KEY")
        retry = _RunPodRetry(
            total=self.retries, connect=self.retries,
            # Once a create was sent, a dropped answer may hide a pod: never re-send it.
            read=self.retries if idempotent else 0,
            status=self.retries,
            status_forcelist=(429, 502, 503, 504) if idempotent else (429,),
            allowed_methods=frozenset({"GET", "PATCH", "DELETE", "POST", "PUT"}),
            backoff_factor=self.backoff_factor_s, respect_retry_after_header=True,
            raise_on_status=False,
        )
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Authorization"] = f"Bearer {self._api_key}"
        session.headers["Accept"] = "application/json"
        session.headers["User-Agent"] = "autoglm-runpod/0.1 (+pulumi dynamic provider)"
        return session

    def _json(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
              params: Mapping[str, str] | None = None, idempotent: bool = True,
              read_timeout_s: float | None = None) -> dict[str, Any]:
        url = self.base_url + path
        timeout = (self.connect_timeout_s, read_timeout_s or self.read_timeout_s)
        with self._session(idempotent) as session:
            try:
                response = session.request(method, url, json=body, params=params, timeout=timeout)
            except requests.RequestException as e:
                raise TransportError(f"RunPod {method} {path}: no answer ({self._scrub(type(e).__name__)}: "
                                     f"{self._scrub(str(e))[:300]})") from None
            self._raise_for_problem(method, path, response)
            if response.status_code == 204 or not response.content:
                return {}
            try:
                parsed = response.json()
            except ValueError:
                raise ServerError(f"RunPod {method} {path}: {response.status_code} with a body that is not "
                                  f"JSON: {self._snippet(response)}", status=response.status_code) from None
            return parsed if isinstance(parsed, dict) else {"items": parsed}

    def _raise_for_problem(self, method: str, path: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        title, detail, errors = self._problem(response)
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else RunPodError)
        if cls is BadRequest and _NO_CAPACITY.search(detail):
            cls = NoCapacity
        message = f"RunPod {method} {path}: {status} {title}: {detail}"
        if errors:
            message += " (" + "; ".join(errors) + ")"
        retry_after = _seconds(response.headers.get("Retry-After"))
        if cls is RateLimited and retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        raise cls(self._scrub(message), status=status, detail=self._scrub(detail),
                  errors=tuple(self._scrub(e) for e in errors), retry_after_s=retry_after)

    def _problem(self, response: requests.Response) -> tuple[str, str, list[str]]:
        kind = response.headers.get("Content-Type", "")
        if "json" in kind:
            try:
                problem = response.json()
            except ValueError:
                problem = None
            if isinstance(problem, dict):
                return (str(problem.get("title") or response.reason or ""), str(problem.get("detail") or ""),
                        [str(e) for e in problem.get("errors") or []])
        # A proxy in front of RunPod answers HTML (e.g. Cloudflare's 502 page): keep a readable snippet.
        return response.reason or "", f"non-JSON answer ({kind or 'no content type'}): {self._snippet(response)}", []

    def _snippet(self, response: requests.Response) -> str:
        text = " ".join(_TAGS.sub(" ", response.text).split())
        return self._scrub(text[:200])

    def _scrub(self, text: str) -> str:
        return scrub(text, self._api_key)

    def _stream(self, pod_id: str, params: Mapping[str, str], last_event_id: str | None,
                idle_s: float) -> requests.Response:
        path = f"/v2/pods/{_seg(pod_id)}/logs"
        session = self._session(idempotent=True)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            response = session.get(self.base_url + path, params=params, headers=headers, stream=True,
                                   timeout=(self.connect_timeout_s, idle_s))
        except requests.RequestException as e:
            session.close()
            raise TransportError(f"RunPod GET {path}: no answer ({type(e).__name__})") from None
        try:
            self._raise_for_problem("GET", path, response)
        except RunPodError:
            response.close()
            session.close()
            raise
        return response


class _SseReader:
    """Bounded reader of one pod's log stream (see `RunPodClient.stream_logs`)."""

    def __init__(self, client: RunPodClient, pod_id: str, params: Mapping[str, str], *, follow: bool,
                 idle_s: float, max_s: float | None, limit: int) -> None:
        self.client, self.pod_id, self.params = client, pod_id, dict(params)
        self.follow, self.idle_s, self.max_s, self.limit = follow, idle_s, max_s, limit
        self.last_event_id: str | None = None

    def events(self) -> Iterator[LogLine]:
        started = time.monotonic()
        seen = 0
        while True:
            response = self.client._stream(self.pod_id, self.params, self.last_event_id, self.idle_s)
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
                    event = _log_event("\n".join(data), event_id)
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


def _log_event(data: str, event_id: str) -> LogLine | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    return LogLine(source=str(payload.get("source", "")), line=str(payload.get("line", "")),
                   ts=str(payload.get("ts", "")), event_id=event_id)


KEY_SOURCES = "RUNPOD_API_KEY or autoglm-runpod:runpodApiKey"
URL_SOURCES = "RUNPOD_API_URL or autoglm-runpod:runpodApiUrl"
_CHAR_NAMES = {"\r": "a carriage return (\\r)", "\n": "a line feed (\\n)", "\t": "a tab", " ": "a space"}


def check_api_key(key: str) -> None:
    """A RunPod key is printable ASCII without whitespace. Anything else is refused with where the bad
    character is, never the key: `export RUNPOD_API_KEY=$(cat key.txt)` on a CRLF file keeps a `\\r`."""
    bad = next((i for i, c in enumerate(key) if not (c.isascii() and c.isprintable()) or c.isspace()), None)
    if bad is None:
        return
    char = key[bad]
    what = _CHAR_NAMES.get(char, f"the character U+{ord(char):04X}")
    where = "at its end" if bad == len(key) - 1 else "at its start" if bad == 0 else f"at position {bad + 1}"
    raise InvalidApiKey(f"the RunPod API key ({KEY_SOURCES}) has {what} {where}: RunPod keys are printable "
                        "ASCII without spaces. Set it again without it, e.g. "
                        "`export RUNPOD_API_KEY=\"$(tr -d '[:space:]' < key.txt)\"` or "
                        "`pulumi config set --secret runpodApiKey ...`")


def check_api_url(url: str) -> None:
    """The key travels in every request: https, or plain http only to this machine (the tests' fakes)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    shown = f"{parts.scheme}://{host}" if parts is not None and parts.scheme else repr(url[:60])
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InsecureApiUrl(f"the RunPod API URL ({URL_SOURCES}) is {shown}: it must be an https URL such "
                             f"as {DEFAULT_API_URL}")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureApiUrl(f"the RunPod API URL ({URL_SOURCES}) is {shown}: plain http would send the RunPod "
                             f"API key unencrypted to {host}. Use https (e.g. {DEFAULT_API_URL}); plain http is "
                             "allowed only to this machine (127.0.0.1, localhost, ::1)")


def is_loopback(host: str) -> bool:
    """This machine: localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scrub(text: str, key: str) -> str:
    """`text` without the key in any form an error message may quote it: verbatim, without surrounding
    whitespace, escaped as repr/str of bytes would show it, or in pieces split at whitespace."""
    if not key:
        return text
    forms = {key, key.strip(), repr(key)[1:-1], key.encode("unicode_escape").decode("ascii"),
             *(part for part in key.split() if len(part) >= 8)}
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _seg(value: str) -> str:
    """A pod id as one URL path segment (ids are opaque; never let one add a path)."""
    return quote(str(value), safe="")


def read_timeout_from_env(environ: Mapping[str, str]) -> float | None:
    """`RUNPOD_READ_TIMEOUT_S`: one read timeout for every call, create included (slow links; fast tests)."""
    raw = environ.get("RUNPOD_READ_TIMEOUT_S")
    return float(raw) if raw else None
