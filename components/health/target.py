"""Where a vLLM server answers and how to authenticate to it: what the probe is pointed at.

A pod is reached through RunPod's proxy (`https://{pod}-8000.proxy.runpod.net`): `/health` is open and the
vLLM key guards `/v1`. A RunPod Serverless load-balancer endpoint (`https://{id}.api.runpod.ai`) wants the
RunPod key on every path and answers health on `/ping` (the load balancer's own health path). The probe's
steps stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from components.names import setting
from components.runpod.credentials import scrub
from components.stack_config import RUNPOD_KEY_FROM

__all__ = ["API_KEY_SETTING", "RUNPOD_KEY_REFUSED", "Target", "api_key_problem", "normalize_base_url", "url_problem"]

API_KEY_SETTING = setting("vllmApiKey")
VLLM_KEY_REFUSED = (f"The key in {API_KEY_SETTING} (or in the --api-key-env variable) does not match the pod's "
                    "VLLM_API_KEY / --api-key")
RUNPOD_KEY_REFUSED = (f"RunPod's load balancer refused the RunPod API key ({RUNPOD_KEY_FROM}): use a key with "
                      "read/write access to this endpoint")


@dataclass(frozen=True)
class Target:
    """`root` is the server without `/v1`; `api_key` goes as a Bearer token to `/v1/*` (and, with
    `key_on_health`, to the health path too)."""

    root: str
    api_key: str | None = field(default=None, repr=False)
    health_path: str = "/health"
    key_on_health: bool = False
    key_refused: str = VLLM_KEY_REFUSED  # what a 401 means, and what to fix

    @classmethod
    def of(cls, base_url: str, api_key: str | None = None) -> Target:
        """A pod's server at `base_url` (with or without /v1). ValueError naming the fix for a bad URL or key."""
        if api_key is not None and (problem := api_key_problem(api_key)):
            raise ValueError(problem)
        return cls(normalize_base_url(base_url), api_key)

    @classmethod
    def serverless(cls, base_url: str, runpod_api_key: str) -> Target:
        """A serverless load-balancer endpoint at `base_url` (with or without /v1): the RunPod key on every path,
        health on `/ping` (200 ready; 204 still loading; 400 while no worker is ready)."""
        if problem := api_key_problem(runpod_api_key, "the RunPod API key"):
            raise ValueError(problem)
        return cls(normalize_base_url(base_url), runpod_api_key, health_path="/ping", key_on_health=True,
                   key_refused=RUNPOD_KEY_REFUSED)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def health_auth(self) -> dict[str, str]:
        return self.auth() if self.key_on_health else {}

    def redact(self, text: str) -> str:
        return scrub(text, self.api_key)


def normalize_base_url(base_url: str) -> str:
    """The server root: `https://x/v1/` → `https://x`. ValueError (naming the fix) when it is no http(s) URL."""
    problem = url_problem(base_url)
    if problem:
        raise ValueError(problem)
    root = base_url.strip().rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def url_problem(base_url: object) -> str | None:
    if not isinstance(base_url, str) or not base_url.strip():
        return "base_url is empty: give the server URL, e.g. https://<podId>-8000.proxy.runpod.net"
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (f"base_url {base_url!r} is not an http(s) URL: give e.g. "
                "https://<podId>-8000.proxy.runpod.net (with or without /v1)")
    if parts.query or parts.fragment:
        return f"base_url {base_url!r} has a query or fragment: give only scheme, host, port and path"
    return None


def api_key_problem(api_key: object, what: str = "the vLLM API key") -> str | None:
    # Never echo the key: requests' own InvalidHeader error would, so refuse bad keys before sending.
    if not isinstance(api_key, str) or not api_key:
        return f"{what} is empty: unset it, or set it to the key the server was started with"
    if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
        return f"{what} contains spaces or control characters: check how it was stored"
    return None
