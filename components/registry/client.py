"""Reading one repository through a registry's HTTP API (the OCI distribution spec, Docker's registry v2):
GET of manifests and blobs, with the auth every public registry uses. An unauthenticated request gets 401
and a `WWW-Authenticate` challenge; for `Bearer realm=…,service=…,scope=…` a token is fetched from the realm
(anonymously, or with the user's credentials as HTTP Basic) and the request sent again with it; for `Basic`
the credentials are sent directly. Statuses become the types in `errors`; credentials and tokens never
appear in a message. Only https carries credentials (plain http only to this machine).
"""

from __future__ import annotations

import base64
import re
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from components.http_retry import BoundedRetry, retry_after_seconds
from components.registry.credentials import Credentials
from components.registry.errors import BY_STATUS, RegistryError, Unauthorized, Unavailable
from components.registry.reference import ImageReference
from components.runpod.credentials import is_loopback

__all__ = ["RegistryClient", "parse_challenge"]

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
RETRIES = 3
BACKOFF_FACTOR_S = 0.25
MAX_BODY_BYTES = 16 * 1024 * 1024  # manifests and image configs are kilobytes; a layer never is fetched
USER_AGENT = "autoglm-runpod/0.2 (+image inspection)"
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def parse_challenge(header: str | None) -> tuple[str, dict[str, str]] | None:
    """`Bearer realm="…",service="…"` → ("bearer", {"realm": …, "service": …}); None without a challenge."""
    if not header or not header.strip():
        return None
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                            for m in _PARAM.finditer(rest)}


class RegistryClient:
    """Reads `ref`'s repository, anonymously or with `credentials`. Use it as a context manager (one session)."""

    def __init__(self, ref: ImageReference, credentials: Credentials | None = None, *, retries: int = RETRIES) -> None:
        self.ref = ref
        self.credentials = credentials
        self._authorization: str | None = None
        retry = BoundedRetry(total=retries, connect=retries, read=retries, status=retries,
                             status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET"}),
                             backoff_factor=BACKOFF_FACTOR_S, respect_retry_after_header=True, raise_on_status=False)
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = USER_AGENT

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._session.close()

    @property
    def who(self) -> str:
        return f"with the credentials from {self.credentials.source}" if self.credentials else "anonymously"

    def get(self, kind: str, reference: str, accept: str) -> requests.Response:
        """GET /v2/<repository>/<kind>/<reference> (kind: manifests or blobs), authenticating on a challenge."""
        url = f"{self.ref.api_url}/v2/{self.ref.repository}/{kind}/{reference}"
        what = f"{kind[:-1]} {reference} of {self.ref.registry}/{self.ref.repository}"
        response = self._send(url, accept, what)
        if response.status_code == 401 and (challenge := parse_challenge(response.headers.get("WWW-Authenticate"))):
            self._authorization = self._authorize(*challenge)
            response = self._send(url, accept, what)
        self._raise_for_status(response, what)
        length = int(response.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES or len(response.content) > MAX_BODY_BYTES:
            raise RegistryError(f"{what} is larger than {MAX_BODY_BYTES // 2**20} MiB: not a manifest or config")
        return response

    def _send(self, url: str, accept: str, what: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept": accept}
        if self._authorization:
            headers["Authorization"] = self._authorization
        try:
            return self._session.get(url, headers=headers, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), **kwargs)
        except requests.RequestException as e:
            raise Unavailable(f"{urlsplit(url).netloc} did not answer for {what} ({type(e).__name__})") from None

    def _authorize(self, scheme: str, params: dict[str, str]) -> str:
        if scheme == "basic":
            if self.credentials is None:
                raise Unauthorized(f"{self.ref.registry} wants a username and password (HTTP Basic) to read "
                                   f"{self.ref.repository}", status=401)
            self._check_carrier(self.ref.api_url)
            return "Basic " + _basic(self.credentials)
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryError(f"{self.ref.registry} answered 401 with an auth challenge this stack cannot "
                                f"follow ({scheme})", status=401)
        return "Bearer " + self._token(params)

    def _token(self, params: dict[str, str]) -> str:
        realm = params["realm"]
        query = {"scope": params.get("scope") or f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        auth = None
        if self.credentials is not None:
            self._check_carrier(realm)
            auth = (self.credentials.username, self.credentials.secret)
        what = f"a token to read {self.ref.registry}/{self.ref.repository} ({self.who})"
        response = self._send(realm, "application/json", what, params=query, auth=auth)
        self._raise_for_status(response, what)
        try:
            answer = response.json()
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token service {urlsplit(realm).netloc} answered without a token for {what}")
        return token

    def _check_carrier(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise RegistryError(f"refusing to send registry credentials over plain http to {parts.netloc}")

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        cls = BY_STATUS.get(status, Unavailable if status >= 500 else RegistryError)
        host = urlsplit(response.url).netloc
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        later = f"; retry after {wait:g} s" if status == 429 and wait is not None else ""
        raise cls(f"{host} answered {status}{_registry_error(response)} for {what} ({self.who}){later}",
                  status=status, retry_after_s=wait)


def _basic(credentials: Credentials) -> str:
    return base64.b64encode(f"{credentials.username}:{credentials.secret}".encode()).decode()


def _registry_error(response: requests.Response) -> str:
    """` MANIFEST_UNKNOWN: manifest unknown` from the registry's error body; '' when it has none."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f" {first.get('code', '')}: {first.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError, IndexError, TypeError):
        detail = " ".join(response.text.split())[:120]
        return f" ({detail})" if detail else ""
