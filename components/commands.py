"""What the operators' commands (`python -m components.logs`, `components.pods`) share: where they read the
RunPod key from, for messages (they read the environment; users export the stack's config value into it), and
how they fail."""

import sys

from components.runpod import KeySources
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_URL_FROM

__all__ = ["COMMAND_SOURCES", "fail"]

COMMAND_SOURCES = KeySources(key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM, missing="export RUNPOD_API_KEY")


def fail(message: str, status: int = 1) -> int:
    """Print `error: message` on stderr; returns the exit status."""
    print(f"error: {message}", file=sys.stderr)
    return status
