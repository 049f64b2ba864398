"""What the operators' commands (`python -m components.logs`, `components.pods`) share: where they read the
RunPod key from, for messages. They read the environment; users export the stack's config value into it."""

from components.runpod import KeySources
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_URL_FROM

__all__ = ["COMMAND_SOURCES"]

COMMAND_SOURCES = KeySources(key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM, missing="export RUNPOD_API_KEY")
