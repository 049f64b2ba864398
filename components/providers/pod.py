"""The RunPod pod as a Pulumi dynamic resource (`pulumi-python:dynamic/runpod:Pod`) over RunPod REST v2.

The pod may only land on a host whose driver runs the image (`gpu.minCudaVersion` on every create, the host's
`cudaVersion` checked once RUNNING), it never bills in silence when it fails (any failure after RunPod made
the pod terminates it before raising, with the cause read from the pod's system log), and `pulumi refresh`
and `pulumi destroy` handle it like any resource.

The provider follows the dynamic-provider contract: `create` is transactional, `delete` treats 404 as done,
`read` returns `ReadResult(None, {})` for a pod that is gone. A pod is created under a provisional name and
renamed once its create succeeded; `create`, `read` and `delete` end the pods a create that never finished left
under that name (components.names, pod_end), and never touch one under the final name. This module is that
contract; the inputs are in `pod_inputs`, the rules in `pod_rules`, what is done to one pod in `pod_ops`,
placement in `pod_placement`.
State written before this layout names `components.pod.PodProvider`, which stays a re-export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from components.providers.base import RunPodProvider, errors_without_secrets
from components.providers.pod_end import create_window_s, end_orphans_of, terminate_pod
from components.providers.pod_inputs import POD_INPUTS
from components.providers.pod_ops import PodCall
from components.providers.pod_placement import Placement
from components.providers.pod_plan import placement_spec
from components.providers.pod_rules import (
    STOPPED_STATUSES,
    PodError,
    diff_inputs,
    errored_message,
    live_outputs,
    pod_outputs,
)
from components.runpod import NotFound

__all__ = ["POD_TYPE", "Pod", "PodArgs", "PodError", "PodProvider"]

POD_TYPE = "pulumi-python:dynamic/runpod:Pod"  # the type token


class PodProvider(RunPodProvider):
    """CRUD of one RunPod GPU pod. Pickled into state by reference: keep the module path and class name
    importable (components.pod re-exports it for state written before this module existed)."""

    def _call(self, props: Mapping[str, Any], *older: Mapping[str, Any]) -> PodCall:
        return PodCall(self.env_client(props, *older), POD_INPUTS.parse(props))

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = POD_INPUTS.check(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        call = self._call(props)
        with errors_without_secrets(call.client, PodError):
            return self._create(call)

    def _create(self, call: PodCall) -> CreateResult:
        # The live catalog orders the GPU types (and refuses what is over budget) before anything is created.
        placement = Placement.start(call, plan=lambda spec: placement_spec(call.client, spec))
        pod = placement.place()
        kept = pod.id
        try:
            pod = call.wait_running(pod, look_aside=lambda: placement.look_late(keep=kept))
            placement.settle(keep=kept)
            call.verify_host(pod)
            if not call.spec.running:
                pod = call.stop(pod)
            pod = call.take_name(pod)  # only a pod whose create succeeded carries the stack's name
        except PodError as e:
            raise PodError(f"{e} {placement.terminate_after_failure(kept)}") from None
        except Exception as e:
            raise PodError(f"{call.spec.describe()} {kept}: {e}. "
                           f"{placement.terminate_after_failure(kept)}") from e
        except BaseException:  # interrupted: still do not leave a billing pod behind
            call.terminate(kept)
            raise
        return CreateResult(pod.id, pod_outputs(POD_INPUTS.plain(call.spec), pod))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.env_client(props)
        with errors_without_secrets(client, PodError):
            # Orphans first: a pod an unfinished create left bills, so it is ended even when reading ours fails.
            if props.get("name"):  # a read may run beside an up that creates (preview --refresh): spare young pods
                spec = POD_INPUTS.parse(props)
                end_orphans_of(client, spec.name, older_than_s=create_window_s(client, spec.ready_timeout_s))
            try:
                pod = client.pods.get(id_)
            except NotFound:
                return ReadResult(None, {})
        if pod.status == "TERMINATED":
            return ReadResult(None, {})
        if pod.status == "ERROR":
            pulumi.log.warn(errored_message(pod))
        outs = live_outputs(props, pod)
        return ReadResult(id_, outs, {k: outs[k] for k in POD_INPUTS.keys if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        call = self._call(news, olds)  # RunPod may echo the old env as well as the new one
        with errors_without_secrets(call.client, PodError):
            return self._update(call, id_, olds)

    def _update(self, call: PodCall, id_: str, olds: dict[str, Any]) -> UpdateResult:
        try:
            pod = call.client.pods.get(id_)
        except NotFound:
            raise PodError(f"pod {id_} no longer exists: run `pulumi refresh`, then `pulumi up` to create it "
                           "again") from None
        if not call.spec.running and pod.status == "ERROR":
            raise PodError(errored_message(pod))  # before any change: stopping cannot end its billing
        patch = call.spec.patch_body(POD_INPUTS.parse(olds))
        if patch:
            pulumi.log.info(f"{call.spec.describe()} {id_}: updating {', '.join(sorted(patch))} in place")
            pod = call.client.pods.update(id_, patch)
        if not call.spec.running:
            return UpdateResult(pod_outputs(POD_INPUTS.plain(call.spec), call.stop(pod)))
        if pod.status in STOPPED_STATUSES or pod.status == "ERROR":
            pod = call.start(pod)
        if pod.status != "RUNNING":
            try:
                pod = call.wait_running(pod)
            except PodError as e:
                raise PodError(f"{e} {call.contain(pod.id)}") from None
        try:
            call.verify_host(pod)
        except PodError as e:  # the pod is the stack's and keeps serving: say so, and how to move it
            raise PodError(f"{e} Pod {id_} is still running (${pod.cost_per_hr:.2f}/h) and stays the stack's pod; "
                           "after changing the settings, `pulumi up --replace <the pod's URN>` places a new one."
                           ) from None
        return UpdateResult(pod_outputs(POD_INPUTS.plain(call.spec), pod))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Terminate until RunPod confirms; a pod that may still bill stays in the state (the error says so)."""
        client = self.env_client(props)
        with errors_without_secrets(client, PodError):
            ended = terminate_pod(client, id_)
            if ended.outcome == "gone":
                pulumi.log.info(f"pod {id_} was already gone")
            elif not ended.confirmed:
                raise PodError(f"{ended.sentence(str(props.get('name') or id_))} Run `pulumi destroy` (or "
                               "`pulumi up`) again to retry.")
            if props.get("name"):
                end_orphans_of(client, str(props["name"]))


@dataclass
class PodArgs:
    """Inputs of `Pod` as the program passes them (values may be Outputs). Unset ones (None) take the
    defaults `PodSpec` declares; the keys are `PodSpec`'s field names (a test keeps them equal)."""

    name: pulumi.Input[str]
    image: pulumi.Input[str]
    gpu_type_ids: pulumi.Input[Sequence[str]]  # in order of preference
    min_cuda_version: pulumi.Input[str]  # "12.9": the host driver floor the image needs
    auto_gpu_type_ids: pulumi.Input[Sequence[str]] | None = None  # what `auto` may choose (the compat rules)
    gpu_count: pulumi.Input[int] | None = None
    cloud: pulumi.Input[str] | None = None
    container_disk_gb: pulumi.Input[int] | None = None
    ports: pulumi.Input[Sequence[str]] | None = None
    env: Mapping[str, pulumi.Input[str]] | None = None  # values may be secret Outputs
    args: pulumi.Input[str] | None = None  # passed to the image's ENTRYPOINT
    network_volume_id: pulumi.Input[str] | None = None
    volume_mount_path: pulumi.Input[str] | None = None
    registry_auth_id: pulumi.Input[str] | None = None
    max_cost_per_hour: pulumi.Input[float] | None = None
    ready_timeout_s: pulumi.Input[int] | None = None
    running: pulumi.Input[bool] | None = None  # false stops the pod (GPU released, disk kept)
    data_center_ids: pulumi.Input[Sequence[str]] | None = None  # pinned placement (the model cache volume's)


class Pod(pulumi.dynamic.Resource, module="runpod", name="Pod"):
    """A RunPod GPU pod that only runs where its image can, and never bills in silence when it fails.
    Its outputs are its inputs plus the attributes below."""

    pod_id: pulumi.Output[str]
    status: pulumi.Output[str]
    gpu_type_id: pulumi.Output[str]
    cuda_version: pulumi.Output[str | None]
    cost_per_hr: pulumi.Output[float]
    data_center_id: pulumi.Output[str | None]
    endpoint_url: pulumi.Output[str]

    def __init__(self, resource_name: str, args: PodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = POD_INPUTS.resource_props(args, Pod.__annotations__)
        # env carries the HF token and the vLLM key: keep it encrypted in state (input and output) whatever
        # the program passed.
        if args.env is not None:
            props["env"] = pulumi.Output.secret(args.env)
        secret_env = pulumi.ResourceOptions(additional_secret_outputs=["env"])
        super().__init__(PodProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_env))

