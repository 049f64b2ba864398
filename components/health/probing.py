"""Proof that a vLLM server answers, with no Pulumi import: `probe()`.

A pod in RUNNING is not a working server. vLLM listens only once the model is loaded (8–20 minutes on a fresh
host), `/health` says 200 even when the next real request kills the engine, and RunPod's proxy answers 502
before that and 524 to any request longer than 100 s. So the probe, in order:

1. polls the target's health path until 200 (refused connections, 502, 503, 524 and anything else mean
   "not yet"), backing off, until the deadline `timeout_s`; a wrong URL fails at once instead (a name that
   does not resolve, a TLS failure) or after a grace (another machine refusing connections: `reachability`);
2. reads `GET /version` (for the report only; failures there are not fatal);
3. `GET /v1/models` must list the served model name;
4. `POST /v1/chat/completions`, a 5-token "Hi" at temperature 0, must return a choice;
5. unless turned off, the same with a small PNG, sent as a base64 data URL inside the OpenAI content list,
   as the Open-AutoGLM client sends phone screenshots.

Each request after the wait has its own timeout (default 90 s, always below the proxy's 100 s). The API key
is sent only where the target says and never appears in a report, log line or error.
Sources: ../shared/research/vllm_autoglm.md §1.6–1.7 (what the client sends), §3 (endpoints and bodies).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from components import tuning
from components.health.png import png_data_url
from components.health.reachability import ConnectFailure, Outlook, connect_failure, describe
from components.health.report import HealthReport
from components.health.target import API_KEY_SETTING, Target
from components.waiting import Deadline, WaitTimedOut, pauses, wait_until

__all__ = ["DEFAULT_REQUEST_TIMEOUT_S", "DEFAULT_TIMEOUT_S", "NotComing", "Polling", "Watch", "model_problem", "probe",
           "tuning_from_env"]

DEFAULT_TIMEOUT_S = 1200.0  # a fresh host pulls a ~12 GB image and a 20 GB model before vLLM listens
DEFAULT_REQUEST_TIMEOUT_S = tuning.HEALTH_REQUEST_TIMEOUT.default
PROXY_LIMIT_S = tuning.HEALTH_REQUEST_TIMEOUT.below or 100.0  # RunPod's proxy (Cloudflare) answers 524 beyond
HEALTH_REQUEST_TIMEOUT_S = 10.0  # /health answers at once when the server is up; don't let one poll hang
BODY_EXCERPT_CHARS = 300
_PROGRESS_EVERY_S = 30.0


@dataclass(frozen=True)
class Polling:
    """Pauses between health polls: `first_s`, then growing by `factor` up to `max_s`.

    The cap is small on purpose: a poll is one tiny GET, and it bounds how late a ready server is noticed.
    """

    first_s: float = 0.25
    factor: float = 1.5
    max_s: float = 1.0
    unreachable_grace_s: float = tuning.HEALTH_UNREACHABLE.default  # see components/health/reachability.py

    def delays(self) -> Iterator[float]:
        return pauses(self.first_s, self.factor, self.max_s)


def tuning_from_env(env: Mapping[str, str] | None = None) -> tuple[float, Polling]:
    """(request timeout, polling) from AUTOGLM_HEALTH_REQUEST_TIMEOUT_S, AUTOGLM_HEALTH_POLL_S and
    AUTOGLM_HEALTH_UNREACHABLE_S, if set."""
    request_timeout = tuning.seconds(tuning.HEALTH_REQUEST_TIMEOUT, env)
    max_poll = tuning.seconds(tuning.HEALTH_POLL, env)
    return request_timeout, Polling(first_s=min(Polling().first_s, max_poll), max_s=max_poll,
                                    unreachable_grace_s=tuning.seconds(tuning.HEALTH_UNREACHABLE, env))


class NotComing(Exception):
    """Raised by a `Watch`: the server will not become ready by waiting (the message says why and what to do)."""


class Watch(Protocol):
    """What the wait for health also looks at (a serverless endpoint's workers): each not-ready note goes
    through it, and comes back with its progress added, or it raises `NotComing`."""

    def __call__(self, note: str) -> str: ...

    def advice(self) -> str:
        """What to change when the deadline passed."""
        ...


POD_ADVICE = ("A fresh host needs 8–20 minutes to pull the image and load the model: raise the timeout, or read the "
              "pod's logs")


class _StepFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


def model_problem(name: object) -> str | None:
    if isinstance(name, str) and name.strip():
        return None
    return "served_model_name is empty: give the pod's --served-model-name, e.g. autoglm-phone-9b"


@dataclass
class _Run:
    """One probe's working state: timings and the last answer."""

    target: Target
    model: str
    request_timeout_s: float
    polling: Polling
    log: Callable[[str], None]
    deadline: Deadline
    watch: Watch | None = None
    latencies_ms: dict[str, float] = field(default_factory=dict)
    last_status: int | None = None
    last_body: str | None = None
    health_polls: int = 0
    unreachable_since: float | None = None  # when the current run of for-a-while connect failures began
    seconds_to_ready: float | None = None
    vllm_version: str | None = None
    served_models: tuple[str, ...] = ()
    max_model_len: int | None = None

    @property
    def root(self) -> str:
        return self.target.root

    def excerpt(self, body: str) -> str | None:
        flat = " ".join(self.target.redact(body).split())
        if not flat:
            return None
        # Cut between words, so a reader never sees half of one.
        return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[:BODY_EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"

    def remember(self, resp: requests.Response) -> None:
        self.last_status = resp.status_code
        self.last_body = self.excerpt(resp.text)


def probe(base_url: str | Target, model: str, *, api_key: str | None = None, image_check: bool = True,
          timeout_s: float = DEFAULT_TIMEOUT_S, request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
          polling: Polling | None = None, log: Callable[[str], None] | None = None,
          watch: Watch | None = None) -> HealthReport:
    """Check that the vLLM server at `base_url` (a URL with or without /v1, or a `Target`) serves `model`
    and answers chats. `timeout_s` bounds the wait for health, during which `watch` (when given) sees every
    not-ready poll; every later request has `request_timeout_s` (< 100 s). Returns a report, healthy or not;
    raises ValueError only for bad arguments, before any request.
    """
    target = base_url if isinstance(base_url, Target) else Target.of(base_url, api_key)
    if problem := model_problem(model):
        raise ValueError(problem)
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, not {timeout_s}")
    if not 0 < request_timeout_s < PROXY_LIMIT_S:
        raise ValueError(f"the request timeout must be between 0 and {PROXY_LIMIT_S:.0f} s (RunPod's proxy "
                         f"limit), not {request_timeout_s}")
    run = _Run(target, model, request_timeout_s, polling or Polling(), log or (lambda _line: None),
               Deadline(timeout_s), watch)
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
                {"type": "image_url", "image_url": {"url": png_data_url()}},
                {"type": "text", "text": "Which two colours does this image show? Answer in two words."}]}])


def _report(run: _Run, image_check: bool, failed: _StepFailed | None) -> HealthReport:
    elapsed = run.deadline.elapsed()
    served = run.model if run.model in run.served_models else None
    return HealthReport(
        healthy=failed is None, failed_step=failed.step if failed else None,
        reason=run.target.redact(failed.reason) if failed else None, base_url=run.root, model=run.model,
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
    path = run.target.health_path
    run.log(f"waiting for vLLM at {run.root}{path} (up to {timeout_s:.0f} s)")
    last_note, noted_at = "", 0.0

    def show(note: str | None) -> None:
        nonlocal last_note, noted_at
        if note is not None and (note != last_note or time.monotonic() - noted_at >= _PROGRESS_EVERY_S):
            run.log(f"not ready yet ({note}), {run.deadline.elapsed():.0f} s elapsed")
            last_note, noted_at = note, time.monotonic()

    def poll() -> str | None:
        note = _poll_health(run, session, max(0.05, min(HEALTH_REQUEST_TIMEOUT_S, run.deadline.remaining())))
        try:
            return note if note is None or run.watch is None else run.watch(note)
        except NotComing as e:
            raise _StepFailed("health", run.target.redact(str(e))) from None

    try:
        wait_until(poll, lambda note: note is None, deadline=run.deadline, pauses=run.polling.delays(), seen=show)
    except WaitTimedOut as timed_out:
        advice = POD_ADVICE if run.watch is None else run.watch.advice()
        raise _StepFailed("health", (f"vLLM did not become ready within {timeout_s:g} s ({path} polled "
                                     f"{run.health_polls}×; last: {timed_out.last}). {advice}")) from None
    run.seconds_to_ready = run.deadline.elapsed()
    run.log(f"{path} answered 200 after {run.seconds_to_ready:.1f} s")


def _poll_health(run: _Run, session: requests.Session, timeout_s: float) -> str | None:
    """None when the health path answered 200, else what was seen instead."""
    run.health_polls += 1
    t0 = time.monotonic()
    try:
        resp = session.get(f"{run.root}{run.target.health_path}", headers=run.target.health_auth(),
                           timeout=timeout_s)
    except requests.ConnectionError as e:  # requests' SSLError is one too
        return _unreachable(run, connect_failure(e, run.root))
    except requests.Timeout:
        run.unreachable_since = None
        return f"no answer within {timeout_s:.1f} s"
    run.unreachable_since = None
    run.latencies_ms["health"] = _ms_since(t0)
    run.remember(resp)
    if resp.status_code == 401 and run.target.key_on_health:  # the key goes to every path: waiting cannot help
        raise _StepFailed("health", f"GET {run.target.health_path} answered 401. {run.target.key_refused}")
    return None if resp.status_code == 200 else f"HTTP {resp.status_code}" + (
        f" {run.last_body}" if resp.status_code == 400 and run.last_body else "")


def _unreachable(run: _Run, failure: ConnectFailure) -> str:
    """The poll's note; raises _StepFailed when waiting cannot help, or has not helped for the grace period."""
    note = run.target.redact(failure.note)
    if failure.outlook is Outlook.HOPELESS:
        raise _StepFailed("health", f"{note}: {failure.advice}")
    if failure.outlook is Outlook.NOT_YET:
        run.unreachable_since = None
        return note
    now = time.monotonic()
    run.unreachable_since = run.unreachable_since or now
    grace = run.polling.unreachable_grace_s
    if now - run.unreachable_since >= grace:
        raise _StepFailed("health", f"{note}, still after {grace:g} s ({tuning.HEALTH_UNREACHABLE.env} sets how "
                                    f"long): {failure.advice}")
    return note


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
                                                          headers=run.target.auth(), timeout=run.request_timeout_s))
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
        if run.target.api_key is None:
            return (f"{what} answered 401: the server requires an API key and none was sent. Set the stack "
                    f"setting {API_KEY_SETTING} (pulumi config set --secret vllmApiKey ...), or give the "
                    "command --api-key-env VAR naming the environment variable that holds the key")
        return f"{what} answered 401: the server rejected the API key. {run.target.key_refused}"
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
    return run.target.redact(describe(error))
