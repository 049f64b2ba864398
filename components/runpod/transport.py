"""The one way this project speaks HTTP to RunPod REST v2: `Transport.request()`.

Every call builds its own `requests.Session` (the callers are dynamic providers, pickled into state) with a
Bearer key, connect and read timeouts, and urllib3 `Retry` for what is safe to repeat: 429 (honouring
`Retry-After`) everywhere, and 502/503/504 and dropped connections only for idempotent calls. A create is
never blindly retried on 5xx: RunPod has been seen to make the resource and still answer 500, so the caller
must look it up by name.

Errors come back as RFC 9457 problem+json and are mapped to the types in `errors`, keeping RunPod's
`detail`. The key, and any other secret the caller names, never appears in an exception or a repr.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from components import tuning
from components.http_retry import BoundedRetry, retry_after_seconds
from components.runpod.credentials import DEFAULT_API_URL, ENV_SOURCES, KeySources, check_api_key, check_api_url, scrub
from components.runpod.errors import BY_STATUS, MissingApiKey, RunPodError, ServerError, TransportError, Unauthorized

__all__ = ["Transport"]

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# RunPod's own sample gives a create 60 s: placement can be slow, and a timeout there costs a lookup.
CREATE_READ_TIMEOUT_S = 60.0
RETRIES = 4
BACKOFF_FACTOR_S = tuning.RETRY_BACKOFF.default
USER_AGENT = "autoglm-runpod/0.2 (+pulumi dynamic provider)"
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class Transport:
    """Settings of the HTTP exchange with RunPod; holds no open connection (safe to pickle or copy)."""

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_API_URL
    sources: KeySources = ENV_SOURCES
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S
    create_read_timeout_s: float = CREATE_READ_TIMEOUT_S
    retries: int = RETRIES
    backoff_factor_s: float = BACKOFF_FACTOR_S
    # Other secrets that RunPod may echo back (a pod's env in a 400 detail): scrubbed like the key.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # A second key, sent instead once RunPod refuses `api_key` (401), and who is told when that happens; after
    # the switch it holds the refused key, still scrubbed, and is never tried again.
    spare_key: str = field(default="", repr=False)
    spare_sources: KeySources | None = None
    on_spare: Callable[[], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or DEFAULT_API_URL).rstrip("/")
        check_api_url(self.base_url, self.sources)
        if self.api_key:
            check_api_key(self.api_key, self.sources)

    def without_retries(self) -> Transport:
        """A copy that sends each call once: for callers that poll and so retry on their own schedule."""
        clone = copy.copy(self)
        clone.retries = 0
        return clone

    def scrub(self, text: str) -> str:
        return scrub(text, self.api_key, self.spare_key, *self.secrets)

    def keep_spare(self, key: str, sources: KeySources, on_spare: Callable[[], None] | None = None) -> None:
        """Send `key` instead once RunPod refuses the one this transport has (see `spare_key`)."""
        self.spare_key, self.spare_sources, self.on_spare = key, sources, on_spare

    def _take_spare(self) -> bool:
        """RunPod refused the key: switch to the spare, when there is one not refused yet."""
        spare, sources = self.spare_key, self.spare_sources
        if not spare or sources is None or spare == self.api_key:
            return False
        check_api_key(spare, sources)
        if self.on_spare is not None:
            self.on_spare()
        self.api_key, self.spare_key = spare, self.api_key
        self.sources, self.spare_sources = sources, None
        return True

    def request(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
                params: Mapping[str, str] | None = None, idempotent: bool = True,
                read_timeout_s: float | None = None) -> dict[str, Any]:
        """One call; the parsed JSON object (a JSON list comes back as `{"items": [...]}`), `{}` for 204. A call
        RunPod refused for the key (401, so it did nothing) is sent once more with the spare key, if any."""
        try:
            return self._request(method, path, body=body, params=params, idempotent=idempotent,
                                 read_timeout_s=read_timeout_s)
        except Unauthorized:
            if not self._take_spare():
                raise
        return self._request(method, path, body=body, params=params, idempotent=idempotent,
                             read_timeout_s=read_timeout_s)

    def _request(self, method: str, path: str, *, body: Mapping[str, Any] | None, params: Mapping[str, str] | None,
                 idempotent: bool, read_timeout_s: float | None) -> dict[str, Any]:
        url = self.base_url + path
        timeout = (self.connect_timeout_s, read_timeout_s or self.read_timeout_s)
        with self.session(idempotent) as session:
            try:
                response = session.request(method, url, json=body, params=params, timeout=timeout)
            except requests.RequestException as e:
                raise TransportError(f"RunPod {method} {path}: no answer ({self.scrub(type(e).__name__)}: "
                                     f"{self.scrub(str(e))[:300]})") from None
            self.raise_for_problem(method, path, response)
            if response.status_code == 204 or not response.content:
                return {}
            try:
                parsed = response.json()
            except ValueError:
                raise ServerError(f"RunPod {method} {path}: {response.status_code} with a body that is not "
                                  f"JSON: {self._snippet(response)}", status=response.status_code) from None
            return parsed if isinstance(parsed, dict) else {"items": parsed}

    def session(self, idempotent: bool) -> requests.Session:
        if not self.api_key:
            raise MissingApiKey(f"no RunPod API key: {self.sources.missing}")
        retry = BoundedRetry(
            total=self.retries, connect=self.retries,
            # Once a create was sent, a dropped answer may hide what it made: never re-send it.
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
        session.headers["Authorization"] = f"Bearer {self.api_key}"
        session.headers["Accept"] = "application/json"
        session.headers["User-Agent"] = USER_AGENT
        return session

    def raise_for_problem(self, method: str, path: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        title, detail, errors = self._problem(response)
        cls = BY_STATUS.get(status, ServerError if status >= 500 else RunPodError)
        message = f"RunPod {method} {path}: {status} {title}: {detail}"
        if errors:
            message += " (" + "; ".join(errors) + ")"
        if status == 401 and self.sources.refused:
            message += f". {self.sources.refused}"
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status == 429 and retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        raise cls(self.scrub(message), status=status, detail=self.scrub(detail),
                  errors=tuple(self.scrub(e) for e in errors), retry_after_s=retry_after)

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
        return self.scrub(text[:200])

    def open_stream(self, path: str, params: Mapping[str, str], last_event_id: str | None,
                    idle_s: float) -> requests.Response:
        """A server-sent-events GET whose socket read times out after `idle_s`; the caller closes it. Like a
        request, sent once more with the spare key when RunPod refuses the key."""
        try:
            return self._open_stream(path, params, last_event_id, idle_s)
        except Unauthorized:
            if not self._take_spare():
                raise
        return self._open_stream(path, params, last_event_id, idle_s)

    def _open_stream(self, path: str, params: Mapping[str, str], last_event_id: str | None,
                     idle_s: float) -> requests.Response:
        session = self.session(idempotent=True)
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
            self.raise_for_problem("GET", path, response)
        except RunPodError:
            response.close()
            session.close()
            raise
        return response
