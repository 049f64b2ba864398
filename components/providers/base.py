"""What every RunPod dynamic provider shares: credentials from `configure` or the environment, and the client.

The provider host unpickles a provider, calls `configure` once with the whole stack config (namespaced keys,
secrets unwrapped), then runs calls on a thread pool: so credentials live on the instance only inside the
host (never in the pickle), and nothing per call is kept on `self`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from components.names import setting
from components.runpod import KeySources, RunPodClient
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_URL_FROM

__all__ = ["STACK_SOURCES", "RunPodProvider", "errors_without_secrets"]

# Where the stack's providers read the key and URL from, for messages that say what to fix.
STACK_SOURCES = KeySources(
    key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM,
    missing="set it with `pulumi config set --secret runpodApiKey ...` or export RUNPOD_API_KEY")


class RunPodProvider(ResourceProvider):
    """Base of the stack's RunPod providers: `client()` builds a fresh client for one call."""

    _config_api_key: str | None = None
    _config_api_url: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Runs inside the provider host, after unpickling: the key never enters the pickle.
        self._config_api_key = req.config.get(setting("runpodApiKey"))
        self._config_api_url = req.config.get(setting("runpodApiUrl"))

    def client(self, secrets: tuple[str, ...] = ()) -> RunPodClient:
        """Config first, then env; a missing key fails at the first API call (never at preview). `secrets`
        (the resource's secret inputs) are scrubbed from every error like the key."""
        return RunPodClient.from_env(os.environ, api_key=self._config_api_key, base_url=self._config_api_url,
                                     sources=STACK_SOURCES, secrets=secrets)


@contextmanager
def errors_without_secrets(client: RunPodClient, error: type[Exception]) -> Iterator[None]:
    """Whatever escapes the block holds none of the client's secrets. RunPod's answers are scrubbed where they
    are read; should anything else quote a secret (a library quoting its input), the exception is raised again
    as `error` with the secret scrubbed, without the chain that quoted it (the host prints whole tracebacks)."""
    try:
        yield
    except Exception as e:
        told = "".join(traceback.format_exception(e))
        if client.scrub(told) == told:
            raise
        raise error(client.scrub(str(e))) from None
