"""What the operators' commands (`python -m components.logs`, `components.pods`) share: where they read the
RunPod key from, for messages (they read the environment; users export the stack's config value into it), and
how they fail."""

import sys
from collections.abc import Callable

from components.runpod import Forbidden, KeySources, MissingApiKey, NotFound, RunPodError, Unauthorized
from components.stack_config import RUNPOD_KEY_FROM, RUNPOD_URL_FROM
from components.tuning import TuningError

__all__ = ["COMMAND_SOURCES", "fail", "run"]

COMMAND_SOURCES = KeySources(key=RUNPOD_KEY_FROM, url=RUNPOD_URL_FROM, missing="export RUNPOD_API_KEY")


def fail(message: str, status: int = 1) -> int:
    """Print `error: message` on stderr; returns the exit status."""
    print(f"error: {message}", file=sys.stderr)
    return status


def run(body: Callable[[], int], not_found: Callable[[], str] | None = None) -> int:
    """`body()`'s exit status; RunPod's and the environment's failures as one `error:` line each: 2 for a bad
    timing variable, 1 for the rest. `not_found` words a 404 (otherwise RunPod's own words)."""
    try:
        return body()
    except MissingApiKey:
        return fail("RUNPOD_API_KEY is not set: export your RunPod API key first")
    except TuningError as e:
        return fail(str(e), status=2)
    except NotFound as e:
        return fail(not_found() if not_found is not None else str(e))
    except (Unauthorized, Forbidden) as e:
        return fail(f"RunPod refused the API key in RUNPOD_API_KEY ({e.status}: {e.detail})")
    except RunPodError as e:
        return fail(str(e))
