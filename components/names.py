"""The stack's names in one place: the config namespace, and how its RunPod resources are named.

RunPod has no tags, so a resource's name is how a lost create is found again and how `pods sweep` tells this
project's pods from others: every name is `autoglm-runpod-<stack>-<resource>`, deterministic and within
RunPod's 191-character limit. Pure data and string rules; importing it costs nothing.
"""

from __future__ import annotations

import hashlib

PROJECT = "autoglm-runpod"
NAME_PREFIX = f"{PROJECT}-"
MAX_NAME = 191  # RunPod's limit on a pod (and endpoint) name

# The component `__main__.py` builds, and the names its children take (`{SERVICE}-pod`, ...): part of each
# RunPod resource's name, so changing them renames (and replaces) every deployed resource.
SERVICE = "autoglm"
POD_RESOURCE = f"{SERVICE}-pod"

__all__ = ["MAX_NAME", "NAME_PREFIX", "POD_RESOURCE", "PROJECT", "SERVICE", "resource_name", "setting",
           "stack_of", "stack_pod_name"]


def setting(key: str) -> str:
    """The full config key users type: `gpuTypes` → `autoglm-runpod:gpuTypes`."""
    return f"{PROJECT}:{key}"


def resource_name(stack: str, resource: str) -> str:
    """The RunPod name of one of a stack's resources; a hash keeps it unique when it must be shortened."""
    name = f"{NAME_PREFIX}{stack}-{resource}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}-{digest}"


def stack_pod_name(stack: str) -> str:
    """The exact RunPod name of a stack's pod."""
    return resource_name(stack, POD_RESOURCE)


def stack_of(name: str) -> str | None:
    """The stack whose pod is named `name` (the inverse of `stack_pod_name`), if any."""
    suffix = f"-{POD_RESOURCE}"
    if name.startswith(NAME_PREFIX) and name.endswith(suffix):
        stack = name[len(NAME_PREFIX):-len(suffix)]
        if stack and stack_pod_name(stack) == name:
            return stack
    return None
