"""The RunPod Serverless endpoint as a Pulumi dynamic resource (`pulumi-python:dynamic/runpod:Endpoint`) over
RunPod REST v2 (`/v2/serverless`).

A `LOAD_BALANCER` endpoint serves the image's own HTTP paths at `https://{id}.api.runpod.ai`; RunPod starts
workers as requests come (on the listed serverless pools, on hosts with the image's CUDA floor), scales on
in-flight requests and scales to zero. The provider follows the dynamic-provider contract: `create` leaves
nothing behind when it fails (endpoint_ops), `diff` replaces only for the routing `type`, `update` PATCHes the
rest, `read` records drift (RunPod lowers `workers.max` by itself after idle days; the next `up` restores it
and says so), and `delete` treats 404 as done. The inputs are in `endpoint_inputs`, the rules in
`endpoint_rules`. The env may carry the Hugging Face token: it is secret in state, and scrubbed from errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from components.providers.base import RunPodProvider, errors_without_secrets
from components.providers.endpoint_inputs import ENDPOINT_INPUTS
from components.providers.endpoint_ops import EndpointCall
from components.providers.endpoint_rules import (
    EndpointError,
    diff_inputs,
    drift_note,
    endpoint_outputs,
    live_outputs,
    mismatch,
    restored,
)
from components.runpod import NotFound

__all__ = ["ENDPOINT_TYPE", "Endpoint", "EndpointArgs", "EndpointError", "EndpointProvider"]

ENDPOINT_TYPE = "pulumi-python:dynamic/runpod:Endpoint"  # the type token


class EndpointProvider(RunPodProvider):
    """CRUD of one RunPod Serverless endpoint. Pickled into state by reference: keep the module path and class
    name importable."""

    def _call(self, props: Mapping[str, Any], *older: Mapping[str, Any]) -> EndpointCall:
        return EndpointCall(self.env_client(props, *older), ENDPOINT_INPUTS.parse(props))

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = ENDPOINT_INPUTS.check(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        call = self._call(props)
        with errors_without_secrets(call.client, EndpointError):
            made = call.create()
        return CreateResult(made.id, endpoint_outputs(ENDPOINT_INPUTS.plain(call.spec), made))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.env_client(props)
        with errors_without_secrets(client, EndpointError):
            try:
                info = client.endpoints.get(id_)
            except NotFound:
                return ReadResult(None, {})
        if note := drift_note(props, info):
            pulumi.log.warn(note)
        outs = live_outputs(props, info)
        return ReadResult(id_, outs, {k: outs[k] for k in ENDPOINT_INPUTS.keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        call = self._call(news, olds)
        with errors_without_secrets(call.client, EndpointError):
            return self._update(call, id_, olds)

    def _update(self, call: EndpointCall, id_: str, olds: dict[str, Any]) -> UpdateResult:
        patch = call.spec.patch_body(ENDPOINT_INPUTS.parse(olds))
        if note := restored(olds, call.spec):
            pulumi.log.warn(note)
        try:
            info = call.client.endpoints.update(id_, patch) if patch else call.client.endpoints.get(id_)
        except NotFound:
            raise EndpointError(f"endpoint {id_} no longer exists: run `pulumi refresh`, then `pulumi up` to create "
                                "it again") from None
        if patch:
            pulumi.log.info(f"{call.spec.describe()} {id_}: updated {', '.join(sorted(patch))} in place"
                            + (" (a new release: workers take it as they are replaced)"
                               if {"image", "env", "args", "ports", "disk", "registry"} & set(patch) else ""))
        if problem := mismatch(call.spec, info):
            raise EndpointError(f"{call.spec.describe()} {id_}: {problem}. Run `pulumi up` again; if it persists, "
                                "RunPod's API changed: see README, Troubleshooting")
        return UpdateResult(endpoint_outputs(ENDPOINT_INPUTS.plain(call.spec), info))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete until RunPod confirms; an endpoint that may still exist stays in the state (the error says so)."""
        call = EndpointCall(self.env_client(props), ENDPOINT_INPUTS.parse(props))
        with errors_without_secrets(call.client, EndpointError):
            if call.delete(id_) == "gone":
                pulumi.log.info(f"endpoint {id_} was already gone")


@dataclass
class EndpointArgs:
    """Inputs of `Endpoint` as the program passes them (values may be Outputs). Unset ones (None) take the
    defaults `EndpointSpec` declares; the keys are its field names (a test keeps them equal)."""

    name: pulumi.Input[str]
    image: pulumi.Input[str]
    pools: pulumi.Input[Sequence[str]]  # serverless pool ids (the catalog's `pool` of each GPU type wanted)
    min_cuda_version: pulumi.Input[str]  # "12.9": the host driver floor the image needs
    type: pulumi.Input[str] | None = None  # LOAD_BALANCER (the default) or QUEUE; a change replaces the endpoint
    excluded_types: pulumi.Input[Sequence[str]] | None = None  # the other cards of those pools
    gpu_count: pulumi.Input[int] | None = None
    container_disk_gb: pulumi.Input[int] | None = None
    ports: pulumi.Input[Sequence[str]] | None = None
    env: Mapping[str, pulumi.Input[str]] | None = None  # values may be secret Outputs
    args: pulumi.Input[str] | None = None
    network_volume_id: pulumi.Input[str] | None = None  # mounted at /runpod-volume
    registry_auth_id: pulumi.Input[str] | None = None
    workers_min: pulumi.Input[int] | None = None
    workers_max: pulumi.Input[int] | None = None
    idle_timeout_s: pulumi.Input[int] | None = None
    request_count: pulumi.Input[int] | None = None  # in-flight requests per worker (REQUEST_COUNT scaling)
    flashboot: pulumi.Input[str] | None = None  # OFF, FLASHBOOT or PRIORITY_FLASHBOOT
    timeout_ms: pulumi.Input[int] | None = None


class Endpoint(pulumi.dynamic.Resource, module="runpod", name="Endpoint"):
    """A RunPod Serverless endpoint whose workers only run where its image can. Outputs: its inputs plus these."""

    endpoint_id: pulumi.Output[str]
    base_url: pulumi.Output[str]  # https://{id}.api.runpod.ai
    health_url: pulumi.Output[str]
    created_at: pulumi.Output[str | None]

    def __init__(self, resource_name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = ENDPOINT_INPUTS.resource_props(args, Endpoint.__annotations__)
        # env may carry the HF token: keep it encrypted in state (input and output) whatever the program passed.
        if args.env is not None:
            props["env"] = pulumi.Output.secret(args.env)
        secret_env = pulumi.ResourceOptions(additional_secret_outputs=["env"])
        super().__init__(EndpointProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_env))
