"""A RunPod network volume as a Pulumi dynamic resource (`pulumi-python:dynamic/runpod:Volume`), over REST v2.

The stack's model cache: pods (and serverless workers) that mount it find the weights a first start downloaded.
It only grows (a smaller size is refused at check, naming the setting), a new storage tier or a new pinned data
center replaces it, and RunPod bills it per GB and month until it is deleted, so delete confirms the end (404 is
done). Its data center is chosen once, at create, where its users' GPU types are free (`volume_ops`); a lost
create is found again by name. Independent of the pod: anything that can mount a volume can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from components.providers.base import RunPodProvider, errors_without_secrets
from components.providers.schema import is_unknown
from components.providers.volume_inputs import VOLUME_INPUTS, volume_changes, volume_outputs
from components.providers.volume_ops import VolumeCall, VolumeError
from components.runpod import BadRequest, NotFound

__all__ = ["VOLUME_TYPE", "Volume", "VolumeArgs", "VolumeError", "VolumeProvider"]

VOLUME_TYPE = "pulumi-python:dynamic/runpod:Volume"


class VolumeProvider(RunPodProvider):
    """CRUD of one RunPod network volume. Pickled into state by reference: keep the module path and class name."""

    def _call(self, props: dict[str, Any]) -> VolumeCall:
        return VolumeCall(self.client(), VOLUME_INPUTS.parse(props))

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = VOLUME_INPUTS.check(news)
        old, new = olds.get("size_gb"), inputs.get("size_gb")
        if old is not None and new is not None and not (is_unknown(old) or is_unknown(new)) and new < old:
            failures.append(CheckFailure("size_gb", (
                f"{VOLUME_INPUTS.named('size_gb')} cannot go down from {old:g} to {new:g} GB: RunPod network volumes "
                f"only grow. Keep {old:g} or more, or replace the volume (`pulumi up --replace <its URN>`; the cached "
                "weights are downloaded again).")))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed, replaces = volume_changes(olds, news)
        # Create-before-delete would need two volumes of one name; the old one goes first.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        call = self._call(props)
        with errors_without_secrets(call.client, VolumeError):
            volume = call.create()
        return CreateResult(volume.id, volume_outputs(VOLUME_INPUTS.plain(call.spec), volume))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.client()
        with errors_without_secrets(client, VolumeError):
            try:
                volume = client.volumes.get(id_)
            except NotFound:
                return ReadResult(None, {})
        return ReadResult(id_, volume_outputs(VOLUME_INPUTS.with_defaults(props), volume))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        call = self._call(news)
        with errors_without_secrets(call.client, VolumeError):
            try:
                volume = call.grow(call.client.volumes.get(id_))
            except NotFound:
                raise VolumeError(f"network volume {id_} no longer exists: run `pulumi refresh`, then `pulumi up` to "
                                  "create it again (the cache starts empty)") from None
            except BadRequest as e:
                raise VolumeError(f"RunPod refused to resize network volume {id_} to {call.spec.size_gb} GB "
                                  f"({e.detail or e}): {VOLUME_INPUTS.named('size_gb')} can only grow") from None
        return UpdateResult(volume_outputs(VOLUME_INPUTS.plain(call.spec), volume))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        call = VolumeCall(self.client(), VOLUME_INPUTS.parse(props))
        with errors_without_secrets(call.client, VolumeError):
            call.delete(id_, props.get("size_gb"), props.get("volume_type"))


@dataclass
class VolumeArgs:
    """Inputs of `Volume` as the program passes them (values may be Outputs). Unset ones (None) take the defaults
    `VolumeSpec` declares; the keys are `VolumeSpec`'s field names (a test keeps them equal)."""

    name: pulumi.Input[str]
    size_gb: pulumi.Input[int]
    volume_type: pulumi.Input[str] | None = None
    data_center_id: pulumi.Input[str] | None = None  # pinned; unset: chosen at create
    gpu_type_ids: pulumi.Input[Sequence[str]] | None = None
    auto_gpu_type_ids: pulumi.Input[Sequence[str]] | None = None
    gpu_count: pulumi.Input[int] | None = None
    min_cuda_version: pulumi.Input[str] | None = None
    max_cost_per_hour: pulumi.Input[float] | None = None
    products: pulumi.Input[Sequence[str]] | None = None  # POD, SERVERLESS: whose GPUs its data center must have


class Volume(pulumi.dynamic.Resource, module="runpod", name="Volume"):
    """A RunPod network volume in a data center where its users' GPUs are. Outputs: its inputs (size, data center
    and tier as RunPod reports them) and the attributes below."""

    volume_id: pulumi.Output[str]
    data_center_id: pulumi.Output[str]
    size_gb: pulumi.Output[int]
    volume_type: pulumi.Output[str]
    monthly_price_usd: pulumi.Output[float | None]

    def __init__(self, resource_name: str, args: VolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = VOLUME_INPUTS.resource_props(args, Volume.__annotations__)
        super().__init__(VolumeProvider(), resource_name, props, opts)
