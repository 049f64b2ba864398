"""A loopback token service for a real registry's token auth (Docker's "Token Authentication Specification",
the flow of auth.docker.io and ghcr.io/token), so the tests' `docker-registry` authenticates like a public one.

`GET /token?service=S&scope=repository:NAME:ACTIONS` answers `{"token", "access_token", "expires_in",
"issued_at"}` with a JWT the registry verifies: RS256, signed by a key whose self-signed certificate is the
registry's `rootcertbundle` and travels in the token's `x5c` header. Anonymous requests get `pull` on public
repositories and nothing elsewhere (a token with no access, which the registry answers with 401
`insufficient_scope`, as Docker Hub does for a private image); HTTP Basic with a known user gets pull and push
everywhere; a wrong password gets 401. `inject` queues statuses (429 with Retry-After, 5xx) for the next
requests. Every request is recorded, without the password.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import serving

ISSUER = "autoglm-test-issuer"
SERVICE = "autoglm-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenRequest:
    scope: str
    user: str | None  # None: anonymous
    status: int
    granted: tuple[str, ...]


@dataclass
class TokenService:
    users: dict[str, str] = field(default_factory=lambda: {"ci-user": "ci-secret-password-1234"})
    public: set[str] = field(default_factory=set)  # repositories anyone may pull
    requests: list[TokenRequest] = field(default_factory=list)
    faults: deque[tuple[int, int | None]] = field(default_factory=deque)  # (status, Retry-After)
    url: str = ""

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - datetime.timedelta(hours=1))
                      .not_valid_after(now + datetime.timedelta(days=1))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self._lock = threading.Lock()

    @property
    def certificate_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def inject(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        self.faults.extend([(status, retry_after)] * times)

    def token(self, access: list[dict[str, Any]], subject: str = "anonymous", lifetime_s: int = 300) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + lifetime_s, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def push_token(self, repository: str) -> str:
        return self.token([{"type": "repository", "name": repository, "actions": ["pull", "push"]}], "ci-user")

    def answer(self, query: dict[str, list[str]], authorization: str | None) -> tuple[int, dict[str, Any], int | None]:
        """(status, JSON body, Retry-After) for one token request."""
        scope = (query.get("scope") or [""])[0]
        user = self._user(authorization)
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            self.requests.append(TokenRequest(scope, user or None, fault[0], ()))
            return fault[0], {"errors": [{"code": "TOOMANYREQUESTS" if fault[0] == 429 else "UNAVAILABLE",
                                          "message": "injected"}]}, fault[1]
        if user == "":  # credentials given but wrong
            self.requests.append(TokenRequest(scope, None, 401, ()))
            return 401, {"details": "incorrect username or password"}, None
        if (query.get("service") or [""])[0] != SERVICE:
            return 400, {"details": "unknown service"}, None
        access = self._grant(scope, user)
        granted = tuple(access[0]["actions"]) if access else ()
        self.requests.append(TokenRequest(scope, user, 200, granted))
        token = self.token(access, user or "anonymous")
        return 200, {"token": token, "access_token": token, "expires_in": 300,
                     "issued_at": datetime.datetime.now(datetime.UTC).isoformat()}, None

    def _user(self, authorization: str | None) -> str | None:
        """The authenticated user; None for anonymous, "" for wrong credentials."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        return user if self.users.get(user) == password else ""

    def _grant(self, scope: str, user: str | None) -> list[dict[str, Any]]:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind != "repository" or not name:
            return []
        allowed = {"pull", "push"} if user else ({"pull"} if name in self.public else set())
        granted = [a for a in actions.split(",") if a in allowed]
        return [{"type": "repository", "name": name, "actions": granted}] if granted else []


class _Handler(BaseHTTPRequestHandler):
    service: TokenService

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/token":
            self._send(404, {"details": "not found"}, None)
            return
        self._send(*self.service.answer(parse_qs(parts.query), self.headers.get("Authorization")))

    def _send(self, status: int, body: dict[str, Any], retry_after: int | None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def token_service(**kwargs: Any) -> Iterator[TokenService]:
    """A `TokenService` answering on 127.0.0.1 for the duration."""
    service = TokenService(**kwargs)
    with serving(type("Handler", (_Handler,), {"service": service})) as host:
        service.url = f"http://{host}"
        yield service
