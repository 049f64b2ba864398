"""The stack's names in one place: the config namespace, and how its RunPod resources are named.

RunPod has no tags, so a resource's name is how a lost create is found again and how `pods sweep` tells this
project's pods from others: every name is `autoglm-runpod-<stack>-<resource>`, deterministic and within
RunPod's 191-character limit. A pod is created under its provisional name (the name plus `-creating`) and
takes its final name only once its create succeeded, so a pod under a provisional name that exists before a
create begins was left by a create that never finished (an interrupted `pulumi up`), never the stack's.
Endpoints and volumes are created under their final name, by which a lost create is looked up.
Pure data and string rules; importing it costs nothing.
"""

from __future__ import annotations

import hashlib

PROJECT = "autoglm-runpod"
NAME_PREFIX = f"{PROJECT}-"
MAX_NAME = 191  # RunPod's limit on a pod (and endpoint) name
CREATING = "-creating"  # marks a provisional name; no final name ends with it

# The component `__main__.py` builds, and the names its children take (`{SERVICE}-pod`, ...): part of each
# RunPod resource's name, so changing them renames (and replaces) every deployed resource.
SERVICE = "autoglm"
POD_RESOURCE = f"{SERVICE}-pod"

__all__ = ["CREATING", "MAX_NAME", "NAME_PREFIX", "POD_RESOURCE", "PROJECT", "SERVICE", "provisional_name",
           "resource_name", "setting", "stack_of", "stack_pod_name"]


def setting(key: str) -> str:
    """The full config key users type: `gpuTypes` → `autoglm-runpod:gpuTypes`."""
    return f"{PROJECT}:{key}"


def _within_limit(name: str, suffix: str = "") -> str:
    """`name + suffix`, with `name` cut and hashed (unique still) when the whole is longer than RunPod allows."""
    if len(name) + len(suffix) <= MAX_NAME:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9 - len(suffix)]}-{digest}{suffix}"


def resource_name(stack: str, resource: str) -> str:
    """The RunPod name of one of a stack's resources; a hash keeps it unique when it must be shortened."""
    return _within_limit(f"{NAME_PREFIX}{stack}-{resource}")


def provisional_name(name: str) -> str:
    """The name a resource of final name `name` carries while it is being created (module docstring)."""
    return _within_limit(name, CREATING)


def stack_pod_name(stack: str) -> str:
    """The exact RunPod name of a stack's pod."""
    return resource_name(stack, POD_RESOURCE)


def stack_of(name: str) -> str | None:
    """The stack whose pod is named `name`, finally or provisionally (the inverse of `stack_pod_name`), if any."""
    final = name.removesuffix(CREATING)
    suffix = f"-{POD_RESOURCE}"
    if final.startswith(NAME_PREFIX) and final.endswith(suffix):
        stack = final[len(NAME_PREFIX):-len(suffix)]
        if stack and name in (stack_pod_name(stack), provisional_name(stack_pod_name(stack))):
            return stack
    return None
