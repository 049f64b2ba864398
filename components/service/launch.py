"""How the container is started, whoever runs it (a pod or a serverless worker): the built image reads its launch
settings from the environment (its start script), a ready image takes `vllm serve` arguments; the caches go on
the network volume when there is one. Secrets go in as secret Outputs (the HF token here; the caller adds the
vLLM key where one guards the server)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pulumi

from components.image import SERVE_PORT, cache_env, launch_args, launch_env
from components.service.images import ImageChoice
from components.settings import Secrets, Settings

__all__ = ["SERVED_PORT", "container_launch", "launch_fingerprint"]

# The one port the container serves on, pod or worker: the built image's nginx (start.sh PORT), or a ready
# image's vLLM itself.
SERVED_PORT = str(SERVE_PORT)


def container_launch(s: Settings, secrets: Secrets, image: ImageChoice,
                     volume_path: str | None) -> tuple[dict[str, pulumi.Input[str]], str | None]:
    """(env, args) for the container; `volume_path` is where the network volume is mounted, if any."""
    env: dict[str, pulumi.Input[str]] = {}
    args: str | None = None
    if image.built_by_stack:
        env.update(launch_env(model=s.model, served_model_name=s.served_model_name, max_model_len=s.max_model_len,
                              gpu_count=s.gpu_count, volume_mount_path=volume_path))
    else:
        args = launch_args(model=s.model, served_model_name=s.served_model_name, max_model_len=s.max_model_len,
                           gpu_count=s.gpu_count)
        if volume_path:
            env.update(cache_env(volume_path))
    if secrets.hf_token is not None:
        env["HF_TOKEN"] = secrets.hf_token
    return env, args


def launch_fingerprint(env: Mapping[str, pulumi.Input[str]] | None, args: pulumi.Input[str] | None) -> str:
    """A digest of how the server is launched (the plain env values and the args; secret Outputs left out): a
    change restarts the server in place, so the health check must run again."""
    plain = {k: v for k, v in (env or {}).items() if isinstance(v, str)}
    line = args if isinstance(args, str) else ""
    return "launch:" + hashlib.sha256(json.dumps([sorted(plain.items()), line]).encode()).hexdigest()[:16]
