"""What every RunPod dynamic provider shares: credentials from `configure` or the environment, and the client.

The provider host unpickles a provider, calls `configure` once with the whole stack config (namespaced keys,
secrets unwrapped), then runs calls on a thread pool: so credentials live on the instance only inside the
host (never in the pickle), and nothing per call is kept on `self`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pulumi
from pulumi.dynamic import ConfigureRequest, ResourceProvider

from components import tuning
from components.names import setting
from components.runpod import KeySources, RunPodClient
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_KEY_MISSING, RUNPOD_URL_FROM

__all__ = ["STACK_SOURCES", "RunPodProvider", "env_secrets", "errors_without_secrets", "landing_grace_s"]

_KEY = setting("runpodApiKey")
_SAVED = f"{_KEY} (for `pulumi refresh` and `pulumi destroy`, the value saved by the last `pulumi up`)"
_WAYS_OUT = ("Either export the current key (RunPod console → Settings → API Keys) as RUNPOD_API_KEY and run the "
             f"command again (the stack sends it whenever RunPod refuses {_KEY}), or "
             "`pulumi config set --secret runpodApiKey <current key>` and `pulumi up`, which saves it for "
             "`refresh` and `destroy` too.")
# Where the stack's providers read the key and URL from, for messages that say what to fix: the key in the
# stack's config, the one in the environment when the config has none, and the environment's after RunPod
# refused the config's.
STACK_SOURCES = KeySources(key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM, missing=RUNPOD_KEY_MISSING,
                           refused=f"RunPod refused the key in {_SAVED}. {_WAYS_OUT}")
_ENV_SOURCES = replace(STACK_SOURCES, refused=(
    f"RunPod refused the key in RUNPOD_API_KEY ({_KEY} is not set). Export the current key (RunPod console → "
    "Settings → API Keys) as RUNPOD_API_KEY and run the command again, or keep it in the stack with "
    "`pulumi config set --secret runpodApiKey <current key>` and `pulumi up`."))
_SPARE_SOURCES = replace(STACK_SOURCES, refused=f"RunPod refused both the key in {_SAVED} and the one in "
                                                f"RUNPOD_API_KEY. {_WAYS_OUT}")


class RunPodProvider(ResourceProvider):
    """Base of the stack's RunPod providers: `client()` builds a fresh client for one call."""

    _config_api_key: str | None = None
    _config_api_url: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Runs inside the provider host, after unpickling: the key never enters the pickle.
        self._config_api_key = req.config.get(setting("runpodApiKey"))
        self._config_api_url = req.config.get(setting("runpodApiUrl"))

    def client(self, secrets: tuple[str, ...] = ()) -> RunPodClient:
        """The key from the stack config, else from RUNPOD_API_KEY; a missing key fails at the first API call
        (never at preview). When RunPod refuses the config's key (401) and RUNPOD_API_KEY holds another, that one
        is sent instead: `refresh` and `destroy` configure the provider from the config saved by the last `up`,
        so after a key rotation only the environment can bring the new key (README, Troubleshooting). `secrets`
        (the resource's secret inputs) are scrubbed from every error like the key."""
        config_key, env_key = self._config_api_key, os.environ.get("RUNPOD_API_KEY")
        client = RunPodClient.from_env(os.environ, api_key=config_key, base_url=self._config_api_url,
                                       sources=STACK_SOURCES if config_key else _ENV_SOURCES, secrets=secrets)
        if config_key and env_key and env_key != config_key:
            client.fall_back_to(env_key, _SPARE_SOURCES, on_use=lambda: pulumi.log.warn(
                f"RunPod refused the API key in {_SAVED} (401); using the one in RUNPOD_API_KEY"))
        return client

    def env_client(self, *props: Mapping[str, Any]) -> RunPodClient:
        """`client()` that also scrubs every `env` value of these props (a container's secrets)."""
        return self.client(secrets=env_secrets(*props))


def env_secrets(*props: Mapping[str, Any]) -> tuple[str, ...]:
    """Every `env` value of these props. The input is secret as a whole (it carries the HF token and the vLLM
    key, next to plain settings the provider cannot tell apart), and RunPod may echo it back in an error or
    a log line: each value is scrubbed like the RunPod key."""
    values = (v for p in props for v in (p.get("env") or {}).values())
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str)))


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


def landing_grace_s(client: RunPodClient) -> float:
    """How long after a create RunPod never answered its resource may still appear: RUNPOD_LANDING_GRACE_S, and at
    least the create's own read timeout (RunPod may still be making it when the client gives up)."""
    return max(tuning.seconds(tuning.LANDING_GRACE), client.create_read_timeout_s)
