"""The RunPod fake's former single-module path, kept so code written against it still imports: the fake now
lives in the `tests.fakes.runpod` package (a module per concern)."""

from tests.fakes.runpod import *  # noqa: F403
from tests.fakes.runpod import __all__ as __all__
