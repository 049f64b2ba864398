"""`pulumi-python:dynamic/vllm:HealthCheck`: a deploy succeeds only when the server really answers.

The provider runs the probe on create and on any input change; it owns no cloud resource, so delete does
nothing. The vLLM key is an input (kept secret in state) but never an output: a salted SHA-256 fingerprint
stands in for it, so a rotated key is noticed. With `endpoint_id` the server is a RunPod Serverless endpoint:
the probe authenticates with the RunPod key, which the provider reads like the RunPod providers (config, else
RUNPOD_API_KEY; never an input), and watches the endpoint's workers while it waits (health/workers.py).
State written before this layout names `components.health.HealthCheckProvider`, which stays a (lazy) re-export.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.output import contains_unknowns

from components.health.probing import DEFAULT_TIMEOUT_S, Watch, model_problem, probe, tuning_from_env
from components.health.target import API_KEY_SETTING, Target, api_key_problem, url_problem
from components.health.workers import WorkerWatch
from components.providers.base import RunPodProvider
from components.providers.schema import Schema, spec_field
from components.runpod import RunPodClient
from components.stack_config import RUNPOD_KEY_FROM

__all__ = ["HEALTH_INPUTS", "HealthCheck", "HealthCheckArgs", "HealthCheckFailed", "HealthCheckProvider",
           "HealthSpec"]

_REPORT_OUTPUTS = ("healthy", "failed_step", "reason", "served_model", "max_model_len", "vllm_version",
                   "seconds_to_ready", "seconds_to_healthy", "latencies_ms", "health_polls", "elapsed_s")


class HealthCheckFailed(RuntimeError):
    """The server did not pass the probe; the message is the one-line diagnosis."""


def _timeout_problem(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return None
    return "timeout_s must be a positive number of seconds, e.g. 1200"


def _flag_problem(prop: str) -> Callable[[object], str | None]:
    return lambda value: None if isinstance(value, bool) else f"{prop} must be true or false"


_image_check_problem, _enabled_problem = _flag_problem("image_check"), _flag_problem("enabled")


def _setting_key_problem(value: object) -> str | None:
    problem = api_key_problem(value)
    return f"{problem} ({API_KEY_SETTING})" if problem else None


def _endpoint_problem(value: object) -> str | None:
    return None if isinstance(value, str) and value.strip() else "endpoint_id must be a RunPod endpoint id when set"


def _triggers_problem(value: object) -> str | None:
    return None if isinstance(value, list) else "triggers must be a list, e.g. [pod id, image ref]"


@dataclass(frozen=True)
class HealthSpec:
    """The health check's inputs, declared once (see components/providers/schema.py)."""

    base_url: str = spec_field(url_problem, convert=str)
    served_model_name: str = spec_field(model_problem, convert=str)
    api_key: str | None = spec_field(_setting_key_problem, convert=str, default=None, secret=True)
    image_check: bool = spec_field(_image_check_problem, convert=bool, default=True)
    timeout_s: float = spec_field(_timeout_problem, convert=float, default=DEFAULT_TIMEOUT_S)
    triggers: tuple[Any, ...] = spec_field(_triggers_problem, convert=tuple, default_factory=tuple)
    enabled: bool = spec_field(_enabled_problem, convert=bool, default=True)
    endpoint_id: str | None = spec_field(_endpoint_problem, convert=str, default=None)  # serverless: its workers


HEALTH_INPUTS: Schema[HealthSpec] = Schema(HealthSpec, reasons_name_the_key=True)


def _public(spec: HealthSpec) -> dict[str, Any]:
    """Every input but the key, as outputs."""
    return {k: v for k, v in HEALTH_INPUTS.plain(spec).items() if k != "api_key"}


def _fingerprint(api_key: str | None, salt: str | None = None) -> str | None:
    """`sha256$<salt>$<hex>`: lets diff notice a rotated key without keeping the key in outputs."""
    if api_key is None:
        return None
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256(f'{salt}:{api_key}'.encode()).hexdigest()}"


def _salt(fingerprint: Any) -> str | None:
    return fingerprint.split("$")[1] if isinstance(fingerprint, str) and fingerprint.count("$") == 2 else None


def _key_changed(old_fingerprint: Any, new_key: Any) -> bool:
    if contains_unknowns(new_key):
        return True
    if not isinstance(old_fingerprint, str):
        return new_key is not None
    return new_key is None or _fingerprint(str(new_key), _salt(old_fingerprint)) != old_fingerprint


def _target(spec: HealthSpec, runpod: Callable[[], RunPodClient]) -> tuple[Target, Watch | None]:
    """Where the probe goes: a pod's server with the vLLM key, or a serverless endpoint with the RunPod key."""
    if spec.endpoint_id is None:
        return Target.of(spec.base_url, spec.api_key), None
    client = runpod()
    if not client.transport.api_key:
        raise HealthCheckFailed(f"no RunPod API key: the health check of serverless endpoint {spec.endpoint_id} "
                                f"sends it to the endpoint's load balancer ({RUNPOD_KEY_FROM})")
    return Target.serverless(spec.base_url, client.transport.api_key), WorkerWatch(client, spec.endpoint_id)


def _run_check(props: Mapping[str, Any], runpod: Callable[[], RunPodClient],
               old_fingerprint: str | None = None) -> dict[str, Any]:
    spec = HEALTH_INPUTS.parse(props)
    outs: dict[str, Any] = {**_public(spec), "api_key_fingerprint": _fingerprint(spec.api_key, _salt(old_fingerprint)),
                            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not spec.enabled:
        pulumi.log.info(f"health check of {spec.base_url} skipped: enabled is false (the pod is stopped)")
        return {**outs, **dict.fromkeys(_REPORT_OUTPUTS), "healthy": False, "status": "skipped",
                "reason": "skipped: enabled is false (the pod is stopped)", "latencies_ms": {}}
    request_timeout_s, polling = tuning_from_env()
    target, watch = _target(spec, runpod)
    report = probe(target, spec.served_model_name, image_check=spec.image_check, timeout_s=spec.timeout_s,
                   request_timeout_s=request_timeout_s, polling=polling, log=pulumi.log.info, watch=watch)
    if not report.healthy:
        raise HealthCheckFailed(report.diagnosis())
    pulumi.log.info(f"vLLM at {report.base_url} is healthy ({report.elapsed_s:.1f} s)")
    data = report.as_dict()
    return {**outs, **{k: data[k] for k in _REPORT_OUTPUTS}, "status": "healthy"}


class HealthCheckProvider(RunPodProvider):
    """Runs the probe on create and on any input change. Holds no per-call state: the host pickles it into the
    stack state and calls it from several threads (`configure` gives it the RunPod key, for serverless)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        _, failures = HEALTH_INPUTS.check(news)
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # `olds` are the old outputs: they hold every input but the key, whose fingerprint stands in for it.
        changed = [k for k in HEALTH_INPUTS.changed(olds, news) if k != "api_key"]
        if _key_changed(olds.get("api_key_fingerprint"), news.get("api_key")):
            changed.append("api_key")
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(f"vllm-health-{secrets.token_hex(6)}", _run_check(props, self.client))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        # A refresh does not probe (that can take many minutes, and the pod may be stopped on purpose).
        return pulumi.dynamic.ReadResult(id_, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(_run_check(news, self.client, olds.get("api_key_fingerprint")))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # nothing was created outside the state


@dataclass
class HealthCheckArgs:
    """Inputs of `HealthCheck`; unset ones (None) take `HealthSpec`'s defaults. `api_key` is made secret;
    `triggers` (pod id, image ref) force a re-check; `enabled` false (a stopped pod) skips probing."""

    base_url: pulumi.Input[str]
    served_model_name: pulumi.Input[str]
    api_key: pulumi.Input[str] | None = None
    image_check: pulumi.Input[bool] | None = None
    timeout_s: pulumi.Input[int] | None = None
    triggers: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    enabled: pulumi.Input[bool] | None = None
    endpoint_id: pulumi.Input[str] | None = None  # a serverless endpoint: probed with the RunPod key


class HealthCheck(pulumi.dynamic.Resource, module="vllm", name="HealthCheck"):
    """Fails the deployment unless the vLLM server really answers. Outputs: the public inputs plus these."""

    healthy: pulumi.Output[bool]
    status: pulumi.Output[str]  # "healthy" or "skipped"
    failed_step: pulumi.Output[str | None]
    reason: pulumi.Output[str | None]
    served_model: pulumi.Output[str | None]
    max_model_len: pulumi.Output[int | None]
    vllm_version: pulumi.Output[str | None]
    seconds_to_ready: pulumi.Output[float | None]
    seconds_to_healthy: pulumi.Output[float | None]
    latencies_ms: pulumi.Output[dict[str, float]]
    health_polls: pulumi.Output[int | None]
    elapsed_s: pulumi.Output[float | None]
    checked_at: pulumi.Output[str]
    api_key_fingerprint: pulumi.Output[str | None]
    base_url: pulumi.Output[str]

    def __init__(self, resource_name: str, args: HealthCheckArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        given = {f.name: getattr(args, f.name) for f in fields(args)}
        props: dict[str, Any] = HEALTH_INPUTS.with_defaults({k: v for k, v in given.items() if v is not None})
        props["api_key"] = None if args.api_key is None else pulumi.Output.secret(args.api_key)
        props.update({k: None for k in HealthCheck.__annotations__ if k not in props})
        # The provider never returns the key; marking it anyway keeps it secret if that ever changes.
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["api_key"])
        super().__init__(HealthCheckProvider(), resource_name, props,
                         pulumi.ResourceOptions.merge(opts, secret_opts))
