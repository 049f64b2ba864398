"""`RunPodClient`: one object, one family of calls per API (`client.pods`, `client.endpoints`,
`client.volumes`, `client.catalog`), as
hcloud-python's `client.servers`. It holds only settings; every call opens its own connection."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from components import tuning
from components.runpod.catalog import CatalogClient
from components.runpod.credentials import ENV_SOURCES, KeySources
from components.runpod.endpoints import EndpointsClient
from components.runpod.pods import PodsClient
from components.runpod.transport import (
    BACKOFF_FACTOR_S,
    CONNECT_TIMEOUT_S,
    CREATE_READ_TIMEOUT_S,
    READ_TIMEOUT_S,
    RETRIES,
    Transport,
)
from components.runpod.volumes import VolumesClient

__all__ = ["RunPodClient"]


class RunPodClient:
    """RunPod REST v2 for the providers and the commands."""

    def __init__(self, api_key: str | None, base_url: str | None = None, *, sources: KeySources = ENV_SOURCES,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S, read_timeout_s: float = READ_TIMEOUT_S,
                 create_read_timeout_s: float = CREATE_READ_TIMEOUT_S, retries: int = RETRIES,
                 backoff_factor_s: float = BACKOFF_FACTOR_S, secrets: tuple[str, ...] = ()) -> None:
        self.transport = Transport(api_key or "", base_url or "", sources, connect_timeout_s, read_timeout_s,
                                   create_read_timeout_s, retries, backoff_factor_s, secrets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, api_key: str | None = None,
                 base_url: str | None = None, sources: KeySources = ENV_SOURCES,
                 secrets: tuple[str, ...] = ()) -> RunPodClient:
        """Key and URL as given, else from `RUNPOD_API_KEY` / `RUNPOD_API_URL`; the read timeout and the retry
        backoff from `RUNPOD_READ_TIMEOUT_S` and `RUNPOD_RETRY_BACKOFF_S` (components.tuning). TuningError when
        any RunPod timing variable is unusable."""
        env = os.environ if environ is None else environ
        tuning.check(tuning.RUNPOD_KNOBS, env)  # every wait's variable, before any call rather than mid-wait
        client = cls(api_key or env.get("RUNPOD_API_KEY"), base_url or env.get("RUNPOD_API_URL"),
                     sources=sources, secrets=secrets,
                     backoff_factor_s=tuning.seconds(tuning.RETRY_BACKOFF, env))
        override = tuning.seconds(tuning.READ_TIMEOUT, env)
        if override:
            client.transport.read_timeout_s = client.transport.create_read_timeout_s = override
        return client

    @property
    def pods(self) -> PodsClient:
        return PodsClient(self.transport)

    @property
    def catalog(self) -> CatalogClient:
        return CatalogClient(self.transport)

    @property
    def endpoints(self) -> EndpointsClient:
        return EndpointsClient(self.transport)

    @property
    def volumes(self) -> VolumesClient:
        return VolumesClient(self.transport)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def retries(self) -> int:
        return self.transport.retries

    @property
    def read_timeout_s(self) -> float:
        return self.transport.read_timeout_s

    @property
    def create_read_timeout_s(self) -> float:
        return self.transport.create_read_timeout_s

    def fall_back_to(self, api_key: str, sources: KeySources, on_use: Callable[[], None] | None = None) -> None:
        """Send `api_key` instead once RunPod refuses this client's key (401); `on_use` is called then."""
        self.transport.keep_spare(api_key, sources, on_use)

    def without_retries(self) -> RunPodClient:
        """A copy that sends each call once (no retry of 429, 5xx or a dropped connection): for callers that
        poll and so retry on their own schedule."""
        clone = object.__new__(RunPodClient)
        clone.transport = self.transport.without_retries()
        return clone

    def scrub(self, text: str) -> str:
        """`text` without the key or any other secret this client was given."""
        return self.transport.scrub(text)

    def __repr__(self) -> str:
        return f"RunPodClient(base_url={self.base_url!r}, api_key={'***' if self.transport.api_key else None})"
