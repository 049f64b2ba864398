"""What RunPod's answers mean for a pod, with no I/O: the diff, the outputs a refresh records, why a pod
failed, and the messages that tell a user what to do. Kept apart so each rule reads and tests alone."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.dynamic import DiffResult

from components.compat import AUTO, cuda_at_least
from components.names import PROJECT, stack_of
from components.providers.pod_inputs import POD_INPUTS, proxy_url
from components.providers.schema import is_unknown
from components.registry.reference import same_image
from components.runpod import PodInfo

__all__ = ["FAILED_STATUSES", "STOPPED_STATUSES", "PodError", "diff_inputs", "errored_message", "explain",
           "live_outputs", "pod_outputs", "sweep_hint"]

# Stopped means not billing for GPUs. ERROR is not stopped: RunPod keeps the GPU and bills, and an ERROR pod
# only allows start or terminate.
STOPPED_STATUSES = frozenset({"EXITED", "TERMINATED"})
FAILED_STATUSES = frozenset({"ERROR", "EXITED", "TERMINATED"})

_CUDA_GATE = re.compile(r"unsatisfied condition: cuda>=(\d+\.\d+)")
_PULL_FAILED = re.compile(r"pull access denied|manifest unknown|repository does not exist|unauthorized: ",
                          re.IGNORECASE)
_DISK_FULL = re.compile(r"no space left on device", re.IGNORECASE)
named, setting = POD_INPUTS.named, POD_INPUTS.setting


class PodError(RuntimeError):
    """A pod could not be brought to (or kept in) the declared state; the message says why and what to do."""


def sweep_hint(name: str) -> str:
    """How a user finds, and ends, pods named `name` that bill outside the state."""
    stack = stack_of(name)
    if stack is None:
        return (f"`python -m components.pods list` shows every pod named {name!r}; end the ones not in the "
                "stack's state in RunPod's console")
    return (f"`python -m components.pods sweep --stack {stack}` lists them (add `--keep` with the stack's own "
            "pod_id, if it has one, and `--yes` to terminate the others)")


# ---- diff ------------------------------------------------------------------------------------------------


def _needs_new_pod(key: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether a changed input can only be met by another pod. A new GPU preference list or CUDA floor
    that the running pod still satisfies keeps it; one it breaks replaces it."""
    if key in POD_INPUTS.replace_keys:
        return True
    new = news.get(key)
    if key in ("gpu_type_ids", "auto_gpu_type_ids"):
        return _gpu_type_unwanted(olds, news)
    if key == "data_center_ids":  # a pod cannot move: one outside the new data centers is replaced
        return is_unknown(new) or (bool(new) and olds.get("data_center_id") not in (new or []))
    if key == "min_cuda_version":
        host = olds.get("cuda_version")
        return is_unknown(new) or host is None or not cuda_at_least(str(host), str(new))
    return False


def _gpu_type_unwanted(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether the pod's GPU type is no longer one the new inputs would try (listed, or among `auto`'s)."""
    listed, auto = news.get("gpu_type_ids") or [], news.get("auto_gpu_type_ids") or []
    if is_unknown(listed) or (AUTO in listed and is_unknown(auto)):
        return True
    wanted = set(listed) - {AUTO}
    if AUTO in listed:
        wanted |= set(auto)
    return olds.get("gpu_type_id") not in wanted


def _same_image(old: Any, new: Any) -> bool:
    """RunPod may spell the image otherwise than it was given (`docker.io/` added, the tag dropped beside a
    digest): the same image is no change, whoever spelled it."""
    return isinstance(old, str) and isinstance(new, str) and same_image(old, new)


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    changed = [k for k in POD_INPUTS.changed(olds, news)
               if not (k == "image" and _same_image(olds.get("image"), news.get("image")))]
    replaces = [k for k in changed if _needs_new_pod(k, olds, news)]
    # A pod last seen in ERROR bills without serving: `pulumi up` must act on it (update starts it again, or
    # refuses `running: false` with what to do), never report it unchanged.
    errored = olds.get("status") == "ERROR"
    # Create-before-delete (Pulumi's default): the old pod keeps serving until the new one is RUNNING.
    return DiffResult(changes=bool(changed) or errored, replaces=replaces, delete_before_replace=False)


# ---- outputs ---------------------------------------------------------------------------------------------


def pod_outputs(inputs: Mapping[str, Any], pod: PodInfo) -> dict[str, Any]:
    """The resource's outputs: its inputs, and what RunPod reports of the pod."""
    return {**inputs, "pod_id": pod.id, "status": pod.status, "gpu_type_id": pod.gpu_type_id,
            "cuda_version": pod.cuda_version, "cost_per_hr": pod.cost_per_hr, "data_center_id": pod.data_center_id,
            "endpoint_url": proxy_url(pod.id, inputs.get("ports") or ())}


def live_outputs(old: Mapping[str, Any], pod: PodInfo) -> dict[str, Any]:
    """Outputs refreshed from RunPod: live facts, plus drift in what a pod carries itself (its image,
    name, args, ports, disk, count, cloud) so the next `pulumi up` puts it back; an image RunPod only spells
    otherwise keeps the declared spelling. `env` is kept as declared:
    RunPod may add variables of its own. A stopped pod (EXITED) records `running: false`; a pod in ERROR
    holds its GPU and bills, so it records `running: true` (and `status: ERROR`), never "stopped"."""
    outs: dict[str, Any] = POD_INPUTS.with_defaults(old)
    declared = outs.get("image")
    image = declared if _same_image(declared, pod.image) else pod.image or declared
    outs.update(name=pod.name, image=image, ports=list(pod.ports) or outs.get("ports"),
                running=pod.status not in STOPPED_STATUSES)
    if pod.args or outs.get("args"):
        outs["args"] = pod.args
    if pod.disk_gb is not None:
        outs["container_disk_gb"] = pod.disk_gb
    if pod.gpu_count is not None:
        outs["gpu_count"] = pod.gpu_count
    if pod.cloud:
        outs["cloud"] = pod.cloud
    if "gpu_type_ids" not in old and pod.gpu_type_id:  # an import: no declaration yet
        outs["gpu_type_ids"] = [pod.gpu_type_id]
    if "env" not in old:
        outs["env"] = dict(pod.env)
    if "min_cuda_version" not in old and pod.cuda_version:
        outs["min_cuda_version"] = pod.cuda_version
    return pod_outputs(outs, pod)


# ---- failures ---------------------------------------------------------------------------------------------


def errored_message(pod: PodInfo) -> str:
    """A pod in ERROR: its container failed for good, yet it holds its GPU and bills, and RunPod allows only
    start or terminate on it, so `running: false` cannot end its billing."""
    return (f"pod {pod.id} ({pod.name}) is in ERROR: its container failed, yet RunPod keeps its GPU and bills "
            f"${pod.cost_per_hr:.2f}/h, and a pod in ERROR can only be started or terminated, not stopped "
            f"(so {named('running')} false cannot end the billing). Get a new pod with "
            "`pulumi up --replace <the pod's URN>` (`pulumi stack --show-urns` lists it), or end it with "
            f"`pulumi destroy`; `python -m components.logs {pod.id} --source system` shows why it failed.")


def explain(lines: Sequence[str], pod: PodInfo, min_cuda_version: str | None = None) -> str:
    """Name the cause of a failed start from the pod's system log, and the setting that fixes it."""
    text, image = "\n".join(lines), pod.image or "the image"
    if m := _CUDA_GATE.search(text):
        return _driver_too_old(m.group(1), pod, min_cuda_version)
    if _PULL_FAILED.search(text):
        return (f"RunPod could not pull {image}: check the image reference ({setting('image')}) and, for a "
                f"private registry, {named('registry_auth_id')}")
    if _DISK_FULL.search(text):
        return f"the container disk filled up: raise {named('container_disk_gb')}"
    if not lines:
        return "RunPod's system log for it was empty or unreadable"
    return f"the last system log line is {lines[-1]!r}; see the log above"


def _driver_too_old(needed: str, pod: PodInfo, asked: str | None) -> str:
    """The image's CUDA gate refused the host. The pod asked for the floor read from the image's config before
    it was created: RunPod placed it below that floor, or the image it pulled is not the one that was read."""
    head = (f"the host's NVIDIA driver is too old for the image: {pod.image or 'the image'} requires CUDA ≥ {needed} "
            f"(nvidia-container-cli: unsatisfied condition: cuda>={needed}) but the host reports "
            f"{pod.cuda_version or 'an older one'}")
    if asked and cuda_at_least(asked, needed):
        return (f"{head}. The pod requested CUDA ≥ {asked} ({named('min_cuda_version')}), so RunPod placed it below "
                "the floor it was asked for: run `pulumi up` again")
    floor = f"CUDA ≥ {asked}" if asked else "a lower CUDA floor"
    return (f"{head}. The pod requested {floor} ({named('min_cuda_version')}), read from the image's config before "
            "the pod was created, so the image RunPod pulled is not the one that was read (a tag that moved?): pin "
            f"{PROJECT}:image by digest (`repo@sha256:…`, as the images this stack builds or promotes are)")
