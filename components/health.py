"""Proof that the vLLM server answers: a probe, `python -m components.health`, and a Pulumi dynamic resource.

A pod in RUNNING is not a working server. vLLM listens only once the model is loaded (8–20 minutes on a fresh
host), `/health` says 200 even when the next real request kills the engine, and the RunPod proxy answers 502
before that and 524 to any request longer than 100 s. So the probe, in order:

1. polls `GET /health` until 200 (refused connections, 502, 503, 524 and anything else mean "not yet"),
   backing off, until the deadline `timeout_s`;
2. reads `GET /version` (for the report only; failures there are not fatal);
3. `GET /v1/models` must list the served model name;
4. `POST /v1/chat/completions`, a 5-token "Hi" at temperature 0, must return a choice;
5. unless turned off, the same with a small PNG made here, sent as a base64 data URL inside the OpenAI
   content list, as the Open-AutoGLM client sends phone screenshots.

Each request after the wait has its own timeout (default 90 s, always below the proxy's 100 s). The vLLM API
key, when set, is sent only to `/v1/*` (the only paths vLLM guards) and never appears in a report, log line,
error or resource output: outputs keep a salted SHA-256 fingerprint of it, to notice rotation.
Sources: ../shared/research/vllm_autoglm.md §1.6–1.7 (what the client sends), §3 (endpoints and bodies).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

import pulumi
import pulumi.dynamic
import requests
from pulumi.output import contains_unknowns
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "HealthCheck",
    "HealthCheckArgs",
    "HealthCheckFailed",
    "HealthCheckProvider",
    "HealthReport",
    "Polling",
    "main",
    "make_png",
    "normalize_base_url",
    "probe",
]

DEFAULT_TIMEOUT_S = 1200.0  # a fresh host pulls a ~12 GB image and a 20 GB model before vLLM listens
DEFAULT_REQUEST_TIMEOUT_S = 90.0
PROXY_LIMIT_S = 100.0  # RunPod's proxy (Cloudflare) answers 524 to anything slower
HEALTH_REQUEST_TIMEOUT_S = 10.0  # /health answers at once when the server is up; don't let one poll hang
API_KEY_SETTING = "autoglm-runpod:vllmApiKey"
POLL_ENV = "AUTOGLM_HEALTH_POLL_S"  # longest pause between /health polls (tests set it small)
REQUEST_TIMEOUT_ENV = "AUTOGLM_HEALTH_REQUEST_TIMEOUT_S"
BODY_EXCERPT_CHARS = 300
STEPS = ("health", "version", "models", "chat", "image")
_PROGRESS_EVERY_S = 30.0


# --------------------------------------------------------------------------------------------------------
# The probe


@dataclass(frozen=True)
class Polling:
    """Pauses between `/health` polls: `first_s`, then growing by `factor` up to `max_s`.

    The cap is small on purpose: a poll is one tiny GET, and it bounds how late a ready server is noticed.
    """

    first_s: float = 0.25
    factor: float = 1.5
    max_s: float = 1.0

    def delays(self) -> Iterator[float]:
        delay = min(self.first_s, self.max_s)
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_s)


@dataclass(frozen=True)
class HealthReport:
    """What the probe found. `healthy` is False with `failed_step` and `reason` when a step failed."""

    healthy: bool
    failed_step: str | None
    reason: str | None
    base_url: str  # the server root, without /v1
    model: str  # the served model name asked for
    served_model: str | None = None
    served_models: tuple[str, ...] = ()
    max_model_len: int | None = None
    vllm_version: str | None = None
    seconds_to_ready: float | None = None  # probe start → first 200 from /health
    seconds_to_healthy: float | None = None  # probe start → every check passed
    latencies_ms: dict[str, float] = field(default_factory=dict)  # per step, of its (last) request
    health_polls: int = 0
    image_checked: bool = False
    last_status: int | None = None  # the last HTTP status seen, and an excerpt of its body
    last_body: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["served_models"] = list(self.served_models)
        return data

    def diagnosis(self) -> str:
        """One line: where it failed, why, the last answer and the time spent."""
        if self.healthy:
            return f"healthy after {self.elapsed_s:.1f} s"
        last = "" if self.last_status is None else f" [last answer: HTTP {self.last_status}" + (
            f": {self.last_body}]" if self.last_body else "]")
        return (f"vLLM at {self.base_url} is unhealthy: step '{self.failed_step}' failed after "
                f"{self.elapsed_s:.1f} s: {self.reason}{last}")

    def summary(self) -> str:
        """The report for people; the last line is `healthy` or `unhealthy: <reason>`."""
        lines = [f"vLLM at {self.base_url}"]
        if self.served_model:
            lines.append(f"  served model   {self.served_model} (max_model_len {self.max_model_len})")
        elif self.served_models:
            lines.append(f"  served models  {', '.join(self.served_models)}")
        if self.vllm_version:
            lines.append(f"  vLLM version   {self.vllm_version}")
        if self.seconds_to_ready is not None:
            lines.append(f"  ready after    {self.seconds_to_ready:.1f} s (/health polled {self.health_polls}×)")
        if self.latencies_ms:
            lines.append("  latencies      " + " · ".join(f"{k} {v:.0f} ms" for k, v in self.latencies_ms.items()))
        if not self.image_checked and self.healthy:
            lines.append("  image request  skipped")
        if not self.healthy:
            lines.append(f"  failed step    {self.failed_step}")
            if self.last_status is not None:
                lines.append(f"  last answer    HTTP {self.last_status}: {self.last_body or '(empty body)'}")
        lines.append(f"  elapsed        {self.elapsed_s:.1f} s")
        lines.append("healthy" if self.healthy else f"unhealthy: {self.reason}")
        return "\n".join(lines)


class _StepFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


def normalize_base_url(base_url: str) -> str:
    """The server root: `https://x/v1/` → `https://x`. ValueError (naming the fix) when it is no http(s) URL."""
    problem = _url_problem(base_url)
    if problem:
        raise ValueError(problem)
    root = base_url.strip().rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _url_problem(base_url: object) -> str | None:
    if not isinstance(base_url, str) or not base_url.strip():
        return "base_url is empty: give the server URL, e.g. https://<podId>-8000.proxy.runpod.net"
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (f"base_url {base_url!r} is not an http(s) URL: give e.g. "
                "https://<podId>-8000.proxy.runpod.net (with or without /v1)")
    if parts.query or parts.fragment:
        return f"base_url {base_url!r} has a query or fragment: give only scheme, host, port and path"
    return None


def _api_key_problem(api_key: object) -> str | None:
    # Never echo the key: requests' own InvalidHeader error would, so refuse bad keys before sending.
    if not isinstance(api_key, str) or not api_key:
        return "the vLLM API key is empty: unset it, or set it to the key the pod's vLLM was started with"
    if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
        return "the vLLM API key contains spaces or control characters: check how it was stored"
    return None


def make_png(width: int = 224, height: int = 224) -> bytes:
    """An 8-bit RGB PNG, red on the left and blue on the right, built with zlib and struct (no Pillow).

    224 px is a multiple of GLM-4.1V's 28 px patch grid (patch 14 × merge 2), so the processor needs no
    resize, and the image costs ~64 tokens.
    """
    row = b"\x00" + b"\xff\x00\x00" * (width // 2) + b"\x00\x00\xff" * (width - width // 2)  # filter 0 + RGB

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height, 9))
            + chunk(b"IEND", b""))


def _png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(make_png()).decode("ascii")


@dataclass
class _Run:
    """One probe's working state: timings, the last answer, the sessions (built per call)."""

    root: str
    model: str
    api_key: str | None = field(repr=False)
    request_timeout_s: float
    polling: Polling
    log: Callable[[str], None]
    started: float
    deadline: float
    latencies_ms: dict[str, float] = field(default_factory=dict)
    last_status: int | None = None
    last_body: str | None = None
    health_polls: int = 0
    seconds_to_ready: float | None = None
    vllm_version: str | None = None
    served_models: tuple[str, ...] = ()
    max_model_len: int | None = None

    def redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text

    def excerpt(self, body: str) -> str | None:
        flat = " ".join(self.redact(body).split())
        if not flat:
            return None
        return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[:BODY_EXCERPT_CHARS] + "…"

    def remember(self, resp: requests.Response) -> None:
        self.last_status = resp.status_code
        self.last_body = self.excerpt(resp.text)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def probe(base_url: str, model: str, *, api_key: str | None = None, image_check: bool = True,
          timeout_s: float = DEFAULT_TIMEOUT_S, request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
          polling: Polling | None = None, log: Callable[[str], None] | None = None) -> HealthReport:
    """Check that the vLLM server at `base_url` (with or without /v1) serves `model` and answers chats.

    `timeout_s` bounds the wait for `/health`; every later request has `request_timeout_s` (< 100 s).
    Returns a report, healthy or not; raises ValueError only for bad arguments, before any request.
    """
    root = normalize_base_url(base_url)
    if problem := _model_problem(model):
        raise ValueError(problem)
    if api_key is not None and (problem := _api_key_problem(api_key)):
        raise ValueError(problem)
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, not {timeout_s}")
    if not 0 < request_timeout_s < PROXY_LIMIT_S:
        raise ValueError(f"the request timeout must be between 0 and {PROXY_LIMIT_S:.0f} s (RunPod's proxy "
                         f"limit), not {request_timeout_s}")
    started = time.monotonic()
    run = _Run(root, model, api_key, request_timeout_s, polling or Polling(), log or (lambda _line: None),
               started, started + timeout_s)
    try:
        _check_all(run, image_check, timeout_s)
    except _StepFailed as failed:
        return _report(run, image_check, failed)
    return _report(run, image_check, None)


def _check_all(run: _Run, image_check: bool, timeout_s: float) -> None:
    with _session(Retry(total=0, read=False, raise_on_status=False)) as polls:
        _wait_until_ready(run, polls, timeout_s)
    # Past /health the server is up: a blip from the proxy (502/503/504) is retried, a slow answer is not.
    retry = Retry(total=2, connect=2, read=False, status=2, other=0, allowed_methods=None,
                  status_forcelist=(502, 503, 504), backoff_factor=run.polling.first_s,
                  raise_on_status=False, respect_retry_after_header=False)
    with _session(retry) as api:
        _read_version(run, api)
        _check_models(run, api)
        _check_chat(run, api, "chat", [{"role": "user", "content": "Hi"}])
        if image_check:
            _check_chat(run, api, "image", [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": _png_data_url()}},
                {"type": "text", "text": "Which two colours does this image show? Answer in two words."}]}])


def _report(run: _Run, image_check: bool, failed: _StepFailed | None) -> HealthReport:
    elapsed = run.elapsed()
    served = run.model if run.model in run.served_models else None
    return HealthReport(
        healthy=failed is None, failed_step=failed.step if failed else None,
        reason=run.redact(failed.reason) if failed else None, base_url=run.root, model=run.model,
        served_model=served, served_models=run.served_models, max_model_len=run.max_model_len,
        vllm_version=run.vllm_version, seconds_to_ready=run.seconds_to_ready,
        seconds_to_healthy=elapsed if failed is None else None, latencies_ms=dict(run.latencies_ms),
        health_polls=run.health_polls, image_checked=image_check and failed is None,
        last_status=run.last_status, last_body=run.last_body, elapsed_s=elapsed)


def _session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "autoglm-runpod-health/1"
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _wait_until_ready(run: _Run, session: requests.Session, timeout_s: float) -> None:
    run.log(f"waiting for vLLM at {run.root}/health (up to {timeout_s:.0f} s)")
    delays = run.polling.delays()
    last_note, noted_at = "", 0.0
    while True:
        remaining = run.deadline - time.monotonic()
        note = _poll_health(run, session, max(0.05, min(HEALTH_REQUEST_TIMEOUT_S, remaining)))
        if note is None:
            run.seconds_to_ready = run.elapsed()
            run.log(f"/health answered 200 after {run.seconds_to_ready:.1f} s")
            return
        if note != last_note or time.monotonic() - noted_at >= _PROGRESS_EVERY_S:
            run.log(f"not ready yet ({note}), {run.elapsed():.0f} s elapsed")
            last_note, noted_at = note, time.monotonic()
        remaining = run.deadline - time.monotonic()
        if remaining <= 0:
            raise _StepFailed("health", (
                f"vLLM did not become ready within {timeout_s:g} s (/health polled {run.health_polls}×; "
                f"last: {note}). A fresh host needs 8–20 minutes to pull the image and load the model: "
                "raise the timeout, or read the pod's logs"))
        time.sleep(min(next(delays), remaining))


def _poll_health(run: _Run, session: requests.Session, timeout_s: float) -> str | None:
    """None when /health answered 200, else what was seen instead."""
    run.health_polls += 1
    t0 = time.monotonic()
    try:
        resp = session.get(f"{run.root}/health", timeout=timeout_s)
    except requests.ConnectionError as e:
        return "connection refused" if "refused" in str(e).lower() else f"connection error: {_short(run, e)}"
    except requests.Timeout:
        return f"no answer within {timeout_s:.1f} s"
    run.latencies_ms["health"] = _ms_since(t0)
    run.remember(resp)
    return None if resp.status_code == 200 else f"HTTP {resp.status_code}"


def _read_version(run: _Run, session: requests.Session) -> None:
    # Only for the report: a proxy or an old vLLM without /version must not fail the check.
    try:
        resp = _timed(run, "version", lambda: session.get(f"{run.root}/version", timeout=run.request_timeout_s))
        version = resp.json().get("version") if resp.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        return
    run.vllm_version = version if isinstance(version, str) else None


def _check_models(run: _Run, session: requests.Session) -> None:
    resp = _request(run, session, "models", "GET", "/v1/models")
    cards = _json(run, "models", resp).get("data")
    if not isinstance(cards, list):
        raise _StepFailed("models", "GET /v1/models answered 200 without a `data` list: is this a vLLM server?")
    run.served_models = tuple(str(c.get("id")) for c in cards if isinstance(c, dict))
    card = next((c for c in cards if isinstance(c, dict) and c.get("id") == run.model), None)
    if card is None:
        serves = ", ".join(repr(m) for m in run.served_models) or "no model"
        raise _StepFailed("models", (
            f"the server does not serve {run.model!r}; it serves {serves}. Make the served model name "
            "match the pod's --served-model-name"))
    max_len = card.get("max_model_len")
    run.max_model_len = int(max_len) if isinstance(max_len, int | float) else None
    run.log(f"serves {run.model} (max_model_len {run.max_model_len})")


def _check_chat(run: _Run, session: requests.Session, step: str, messages: list[dict[str, Any]]) -> None:
    body = {"model": run.model, "messages": messages, "max_tokens": 5, "temperature": 0.0, "stream": False}
    resp = _request(run, session, step, "POST", "/v1/chat/completions", json=body)
    choices = _json(run, step, resp).get("choices")
    if not isinstance(choices, list) or not choices:
        raise _StepFailed(step, "POST /v1/chat/completions answered 200 without a choice")
    run.log(f"{'image' if step == 'image' else 'text'} chat answered in {run.latencies_ms[step]:.0f} ms")


def _request(run: _Run, session: requests.Session, step: str, method: str, path: str,
             json: Any = None) -> requests.Response:
    what = f"{method} {path}"
    try:
        resp = _timed(run, step, lambda: session.request(method, f"{run.root}{path}", json=json,
                                                          headers=run.auth(), timeout=run.request_timeout_s))
    except requests.Timeout:
        raise _StepFailed(step, f"{what} got no answer within {run.request_timeout_s:g} s") from None
    except requests.RequestException as e:
        raise _StepFailed(step, f"{what} failed: {_short(run, e)}") from None
    run.remember(resp)
    if resp.status_code != 200:
        raise _StepFailed(step, _status_reason(run, what, step, resp))
    return resp


def _status_reason(run: _Run, what: str, step: str, resp: requests.Response) -> str:
    status = resp.status_code
    if status == 401:
        if run.api_key is None:
            return (f"{what} answered 401: the server requires an API key and none was sent. Set the stack "
                    f"setting {API_KEY_SETTING} (pulumi config set --secret vllmApiKey ...), or give the "
                    "command --api-key-env VAR naming the environment variable that holds the key")
        return (f"{what} answered 401: the server rejected the API key. The key in {API_KEY_SETTING} (or in "
                "the --api-key-env variable) does not match the pod's VLLM_API_KEY / --api-key")
    message = _error_message(run, resp)
    if status == 524:
        return f"{what} answered 524: RunPod's proxy cut the request at 100 s; the server is too slow or stuck"
    if step == "image" and status == 400:
        return (f"{what} rejected the image (400: {message}). AutoGLM reads screenshots: check that the pod "
                "serves the vision model and that --limit-mm-per-prompt allows images")
    if step in ("chat", "image") and status >= 500:
        return (f"{what} answered {status} ({message}) although /health says 200: the engine fails on real "
                "requests (dead engine, out of memory?); read the pod's logs")
    return f"{what} answered {status} ({message})"


def _json(run: _Run, step: str, resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _StepFailed(step, f"{resp.request.method} {urlsplit(resp.url).path} answered 200 without a JSON "
                                "object: is this a vLLM server?")
    return data


def _error_message(run: _Run, resp: requests.Response) -> str:
    """vLLM's `{"error": {"message": ...}}`, `{"error": "..."}` or `{"message": ...}`; else the body excerpt."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error or data.get("message")
        if isinstance(message, str) and message:
            return run.excerpt(message) or "no message"
    return run.excerpt(resp.text) or "empty body"


def _timed(run: _Run, step: str, send: Callable[[], requests.Response]) -> requests.Response:
    t0 = time.monotonic()
    resp = send()
    run.latencies_ms[step] = _ms_since(t0)
    return resp


def _ms_since(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


def _short(run: _Run, error: Exception) -> str:
    return run.excerpt(str(error)) or type(error).__name__


def tuning_from_env(env: Mapping[str, str] | None = None) -> tuple[float, Polling]:
    """(request timeout, polling) from AUTOGLM_HEALTH_REQUEST_TIMEOUT_S and AUTOGLM_HEALTH_POLL_S, if set."""
    env = os.environ if env is None else env
    request_timeout = _positive_env(env, REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT_S)
    if request_timeout >= PROXY_LIMIT_S:
        raise ValueError(f"{REQUEST_TIMEOUT_ENV}={request_timeout:g} must stay below {PROXY_LIMIT_S:.0f} s, "
                         "RunPod's proxy limit")
    max_poll = _positive_env(env, POLL_ENV, Polling().max_s)
    return request_timeout, Polling(first_s=min(Polling().first_s, max_poll), max_s=max_poll)


def _positive_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r} must be a positive number of seconds")
    return value


# --------------------------------------------------------------------------------------------------------
# The dynamic resource

_INPUT_DEFAULTS: dict[str, Any] = {"image_check": True, "timeout_s": DEFAULT_TIMEOUT_S, "triggers": [],
                                   "enabled": True}
_COMPARED_INPUTS = ("base_url", "served_model_name", "image_check", "timeout_s", "triggers", "enabled")
_REPORT_OUTPUTS = ("healthy", "failed_step", "reason", "served_model", "max_model_len", "vllm_version",
                   "seconds_to_ready", "seconds_to_healthy", "latencies_ms", "health_polls", "elapsed_s")
_OUTPUT_KEYS = (*_REPORT_OUTPUTS, "status", "checked_at", "api_key_fingerprint")


class HealthCheckFailed(RuntimeError):
    """The server did not pass the probe; the message is the one-line diagnosis."""


@dataclass(frozen=True)
class _Inputs:
    base_url: str
    served_model_name: str
    api_key: str | None = field(repr=False)
    image_check: bool
    timeout_s: float
    triggers: list[Any]
    enabled: bool

    @staticmethod
    def of(props: Mapping[str, Any]) -> _Inputs:
        p = {**_INPUT_DEFAULTS, **{k: v for k, v in props.items() if v is not None}}
        return _Inputs(str(p["base_url"]), str(p["served_model_name"]), p.get("api_key"),
                       bool(p["image_check"]), float(p["timeout_s"]), list(p["triggers"]), bool(p["enabled"]))

    def public(self) -> dict[str, Any]:
        """Every input but the key, as outputs."""
        return {"base_url": self.base_url, "served_model_name": self.served_model_name,
                "image_check": self.image_check, "timeout_s": self.timeout_s, "triggers": self.triggers,
                "enabled": self.enabled}


def _check_failures(news: Mapping[str, Any]) -> list[pulumi.dynamic.CheckFailure]:
    failures = []
    for prop, problem_of in _INPUT_CHECKS.items():
        value = news.get(prop)
        if contains_unknowns(value) or (value is None and prop not in _REQUIRED_INPUTS):
            continue  # unknown during preview, or left to its default
        if problem := problem_of(value):
            failures.append(pulumi.dynamic.CheckFailure(prop, problem))
    return failures


def _model_problem(name: object) -> str | None:
    if isinstance(name, str) and name.strip():
        return None
    return "served_model_name is empty: give the pod's --served-model-name, e.g. autoglm-phone-9b"


def _timeout_problem(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return None
    return "timeout_s must be a positive number of seconds, e.g. 1200"


def _flag_problem(prop: str) -> Callable[[object], str | None]:
    return lambda value: None if isinstance(value, bool) else f"{prop} must be true or false"


def _setting_key_problem(value: object) -> str | None:
    problem = _api_key_problem(value)
    return f"{problem} ({API_KEY_SETTING})" if problem else None


_REQUIRED_INPUTS = ("base_url", "served_model_name")
_INPUT_CHECKS: dict[str, Callable[[object], str | None]] = {
    "base_url": _url_problem,
    "served_model_name": _model_problem,
    "api_key": _setting_key_problem,
    "timeout_s": _timeout_problem,
    "image_check": _flag_problem("image_check"),
    "enabled": _flag_problem("enabled"),
    "triggers": lambda v: None if isinstance(v, list) else "triggers must be a list, e.g. [pod id, image ref]",
}


def _fingerprint(api_key: str | None, salt: str | None = None) -> str | None:
    """`sha256$<salt>$<hex>`: lets diff notice a rotated key without keeping the key in outputs."""
    if api_key is None:
        return None
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256(f'{salt}:{api_key}'.encode()).hexdigest()}"


def _key_changed(old_fingerprint: Any, new_key: Any) -> bool:
    if contains_unknowns(new_key):
        return True
    if not isinstance(old_fingerprint, str):
        return new_key is not None
    salt = old_fingerprint.split("$")[1] if old_fingerprint.count("$") == 2 else None
    return new_key is None or _fingerprint(str(new_key), salt) != old_fingerprint


def _run_check(props: Mapping[str, Any], old_fingerprint: str | None = None) -> dict[str, Any]:
    inputs = _Inputs.of(props)
    salt = old_fingerprint.split("$")[1] if old_fingerprint and old_fingerprint.count("$") == 2 else None
    outs: dict[str, Any] = {**inputs.public(), "api_key_fingerprint": _fingerprint(inputs.api_key, salt),
                            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not inputs.enabled:
        pulumi.log.info(f"health check of {inputs.base_url} skipped: enabled is false (the pod is stopped)")
        return {**outs, **dict.fromkeys(_REPORT_OUTPUTS), "healthy": False, "status": "skipped",
                "reason": "skipped: enabled is false (the pod is stopped)", "latencies_ms": {}}
    request_timeout_s, polling = tuning_from_env()
    report = probe(inputs.base_url, inputs.served_model_name, api_key=inputs.api_key,
                   image_check=inputs.image_check, timeout_s=inputs.timeout_s,
                   request_timeout_s=request_timeout_s, polling=polling, log=pulumi.log.info)
    if not report.healthy:
        raise HealthCheckFailed(report.diagnosis())
    pulumi.log.info(f"vLLM at {report.base_url} is healthy ({report.elapsed_s:.1f} s)")
    data = report.as_dict()
    return {**outs, **{k: data[k] for k in _REPORT_OUTPUTS}, "status": "healthy"}


class HealthCheckProvider(pulumi.dynamic.ResourceProvider):
    """Runs the probe on create and on any input change; owns no cloud resource, so delete does nothing.

    Holds no state: the host pickles it into the stack state and calls it from several threads.
    """

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        return pulumi.dynamic.CheckResult(news, _check_failures(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # `olds` are the old outputs: they hold every input but the key, whose fingerprint stands in for it.
        new = {**_INPUT_DEFAULTS, **{k: v for k, v in news.items() if v is not None}}
        changed = [k for k in _COMPARED_INPUTS if contains_unknowns(new.get(k)) or olds.get(k) != new.get(k)]
        if _key_changed(olds.get("api_key_fingerprint"), news.get("api_key")):
            changed.append("api_key")
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(f"vllm-health-{secrets.token_hex(6)}", _run_check(props))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        # A refresh does not probe (that can take many minutes, and the pod may be stopped on purpose).
        return pulumi.dynamic.ReadResult(id_, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(_run_check(news, olds.get("api_key_fingerprint")))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # nothing was created outside the state


@dataclass
class HealthCheckArgs:
    """Inputs of `HealthCheck`. `api_key` is made secret; `triggers` (pod id, image ref) force a re-check."""

    base_url: pulumi.Input[str]
    served_model_name: pulumi.Input[str]
    api_key: pulumi.Input[str] | None = None
    image_check: pulumi.Input[bool] = True
    timeout_s: pulumi.Input[int] = int(DEFAULT_TIMEOUT_S)
    triggers: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    enabled: pulumi.Input[bool] = True  # False while the pod is stopped: no probing, status "skipped"


class HealthCheck(pulumi.dynamic.Resource, module="vllm", name="HealthCheck"):
    """`pulumi-python:dynamic/vllm:HealthCheck`: fails the deployment unless the vLLM server really answers."""

    base_url: pulumi.Output[str]
    served_model_name: pulumi.Output[str]
    image_check: pulumi.Output[bool]
    timeout_s: pulumi.Output[float]
    triggers: pulumi.Output[list[str]]
    enabled: pulumi.Output[bool]
    healthy: pulumi.Output[bool]
    status: pulumi.Output[str]  # "healthy" or "skipped"
    failed_step: pulumi.Output[str | None]
    reason: pulumi.Output[str | None]
    served_model: pulumi.Output[str | None]
    max_model_len: pulumi.Output[int | None]
    vllm_version: pulumi.Output[str | None]
    seconds_to_ready: pulumi.Output[float | None]
    seconds_to_healthy: pulumi.Output[float | None]
    latencies_ms: pulumi.Output[dict[str, float]]
    health_polls: pulumi.Output[int | None]
    elapsed_s: pulumi.Output[float | None]
    checked_at: pulumi.Output[str]
    api_key_fingerprint: pulumi.Output[str | None]

    def __init__(self, resource_name: str, args: HealthCheckArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "base_url": args.base_url, "served_model_name": args.served_model_name,
            "api_key": None if args.api_key is None else pulumi.Output.secret(args.api_key),
            "image_check": args.image_check, "timeout_s": args.timeout_s, "triggers": args.triggers,
            "enabled": args.enabled, **dict.fromkeys(_OUTPUT_KEYS)}
        # The provider never returns the key; marking it anyway keeps it secret if that ever changes.
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["api_key"])
        super().__init__(HealthCheckProvider(), resource_name, props,
                         pulumi.ResourceOptions.merge(opts, secret_opts))


# --------------------------------------------------------------------------------------------------------
# The command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m components.health",
        description="Prove that a vLLM server answers: /health, /v1/models, a chat and an image chat.",
        epilog=f"Exit 0 healthy, 1 unhealthy (the reason on the last line), 2 bad usage. {POLL_ENV} and "
               f"{REQUEST_TIMEOUT_ENV} tune the /health poll cap (default 1 s) and the per-request timeout.")
    p.add_argument("--base-url", required=True, help="server URL, with or without /v1, "
                                                     "e.g. https://<podId>-8000.proxy.runpod.net")
    p.add_argument("--model", required=True, help="the served model name (the pod's --served-model-name)")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the vLLM API key")
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
    try:
        request_timeout_s, polling = tuning_from_env()
        report = probe(args.base_url, args.model, api_key=api_key, image_check=not args.no_image,
                       timeout_s=args.timeout, request_timeout_s=request_timeout_s, polling=polling,
                       log=lambda line: print(line, file=err, flush=True))
    except ValueError as e:
        usage(str(e))
    if args.json:
        out.write(json.dumps(report.as_dict(), indent=2) + "\n")
        if not report.healthy:
            err.write(f"unhealthy: {report.reason}\n")
    else:
        out.write(report.summary() + "\n")
    return 0 if report.healthy else 1


if __name__ == "__main__":
    sys.exit(main())
