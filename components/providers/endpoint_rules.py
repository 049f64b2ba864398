"""What RunPod's answers mean for a serverless endpoint, with no I/O: the diff, the outputs, what a refresh
records (drift included: RunPod lowers `workers.max` by itself on endpoints idle for days), and whether RunPod
made the endpoint that was asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import DiffResult

from components.compat import cuda_at_least
from components.providers.endpoint_inputs import ENDPOINT_INPUTS, EndpointSpec
from components.runpod import EndpointInfo

__all__ = ["EndpointError", "diff_inputs", "drift_note", "endpoint_outputs", "live_outputs", "mismatch", "restored"]

named = ENDPOINT_INPUTS.named


class EndpointError(RuntimeError):
    """An endpoint could not be brought to (or kept in) the declared state; the message says why and what to do."""


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    changed = ENDPOINT_INPUTS.changed(olds, news)
    replaces = [k for k in changed if k in ENDPOINT_INPUTS.replace_keys]
    # Create-before-delete: the old endpoint keeps serving until the new one exists (its URL changes).
    return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)


def base_url(info: EndpointInfo) -> str:
    """`requestUrls.base` of a load-balancer endpoint (RunPod's documented form when the answer lacks it)."""
    return info.base_url or f"https://{info.id}.api.runpod.ai"


def endpoint_outputs(inputs: Mapping[str, Any], info: EndpointInfo) -> dict[str, Any]:
    """The resource's outputs: its inputs, and what RunPod reports of the endpoint."""
    return {**inputs, "endpoint_id": info.id, "base_url": base_url(info),
            "health_url": info.health_url or f"{base_url(info)}/ping", "created_at": info.created_at}


def live_outputs(old: Mapping[str, Any], info: EndpointInfo) -> dict[str, Any]:
    """Outputs refreshed from RunPod: what the endpoint carries now, so the next `pulumi up` puts back what
    drifted. `env` stays as declared (RunPod may add variables of its own)."""
    outs: dict[str, Any] = ENDPOINT_INPUTS.with_defaults(old)
    outs.update(name=info.name, image=info.image or outs.get("image"), workers_min=info.workers_min,
                workers_max=info.workers_max, pools=list(info.pools) or outs.get("pools"),
                excluded_types=list(info.excluded_types), flashboot=info.flashboot,
                network_volume_id=info.network_volumes[0] if info.network_volumes else None)
    optional = {"type": info.type or None, "ports": list(info.ports) or None, "container_disk_gb": info.disk_gb,
                "idle_timeout_s": info.idle_timeout_s, "request_count": info.request_count,
                "gpu_count": info.gpu_count, "min_cuda_version": info.min_cuda_version, "timeout_ms": info.timeout_ms,
                "registry_auth_id": info.registry_auth_id}
    outs.update({k: v for k, v in optional.items() if v is not None or k == "registry_auth_id"})
    if info.args or outs.get("args"):
        outs["args"] = info.args
    if "env" not in old:  # an import: no declaration yet
        outs["env"] = dict(info.env)
    return endpoint_outputs(outs, info)


def drift_note(declared: Mapping[str, Any], info: EndpointInfo) -> str | None:
    """What a refresh should say when RunPod lowered `workers.max` below the declared value."""
    wanted = declared.get("workers_max")
    if not isinstance(wanted, int | float) or info.workers_max >= wanted:
        return None
    return (f"endpoint {info.id} ({info.name}): RunPod lowered workers.max from {wanted:g} to {info.workers_max} "
            "(it does so after days without requests, and after repeated unhealthy workers); the next `pulumi up` "
            f"restores {named('workers_max')} {wanted:g}")


def restored(olds: Mapping[str, Any], spec: EndpointSpec) -> str | None:
    """The update's note when it raises a `workers.max` that RunPod had lowered."""
    live = olds.get("workers_max")
    if not isinstance(live, int | float) or live >= spec.workers_max or olds.get("endpoint_id") is None:
        return None
    return (f"{spec.describe()}: workers.max is {live:g} at RunPod (lowered outside this stack: RunPod does so after "
            f"days without requests); restoring {named('workers_max')} {spec.workers_max}")


def mismatch(spec: EndpointSpec, info: EndpointInfo) -> str | None:
    """How the endpoint RunPod made differs from the request in what this stack relies on, or None."""
    if info.type and info.type != spec.type:
        return f"RunPod made a {info.type} endpoint, not {spec.type}"
    floor = info.min_cuda_version
    if floor is None or not cuda_at_least(floor, spec.min_cuda_version):
        return (f"RunPod did not keep the CUDA floor ({named('min_cuda_version')} {spec.min_cuda_version}; its answer "
                f"says {floor or 'none'}), so workers could land on hosts whose driver cannot run the image")
    if spec.type == "LOAD_BALANCER" and not info.base_url:
        return "RunPod's answer has no requestUrls.base, the URL clients and the health check use"
    return None
