"""Where a pod create may place the pod: the GPU types it tries, in order, decided at create time from RunPod's
live catalog, and the data center of the volume it mounts.

The inputs stay stable (the declared `gpu_type_ids`, maybe ending with `auto`; the types `auto` may choose; the
budget; the volume's data center), so prices moving between runs change no input: the order is worked out here,
once per create, by `components.placement`. When nothing may be tried (every candidate above `maxCostPerHour`,
none free in the volume's data center, `auto` without a catalog) the create fails before any pod exists. With
plain GPU ids, no budget and no data center there is nothing to decide, and the catalog is not asked.

A volume must be "in the same data center as the pod" (RunPod's contract), so a pod that mounts one is pinned to
its data center (`dataCenterIds`): the managed cache volume passes it; for a volume of your own
(`networkVolumeId`) it is read here.
"""

from __future__ import annotations

from dataclasses import replace

import pulumi

from components.compat import AUTO
from components.placement import NoCandidate, describe_plan, plan_pod, table_fits
from components.providers.pod_inputs import POD_INPUTS, PodSpec
from components.providers.pod_rules import PodError
from components.runpod import NotFound, RunPodClient, RunPodError

__all__ = ["creation_order", "needs_catalog", "placement_spec"]


def placement_spec(client: RunPodClient, spec: PodSpec) -> PodSpec:
    """`spec` as placement uses it: pinned to its volume's data center, its GPU types in the order to try."""
    pinned = _pinned_to_volume(client, spec)
    return replace(pinned, gpu_type_ids=creation_order(client, pinned))


def _pinned_to_volume(client: RunPodClient, spec: PodSpec) -> PodSpec:
    if not spec.network_volume_id or spec.data_center_ids:
        return spec
    try:
        volume = client.volumes.get(spec.network_volume_id)
    except NotFound:
        raise PodError(f"{spec.describe()}: network volume {spec.network_volume_id} "
                       f"({POD_INPUTS.named('network_volume_id')}) does not exist in this RunPod account; nothing "
                       "was created. Check the id in RunPod's console (Storage).") from None
    except RunPodError as e:
        pulumi.log.warn(f"{spec.describe()}: could not read network volume {spec.network_volume_id} ({e}); "
                        "RunPod places the pod without knowing its data center")
        return spec
    pulumi.log.info(f"{spec.describe()}: network volume {volume.id} is in {volume.data_center}; the pod goes there")
    return replace(spec, data_center_ids=(volume.data_center,))


def needs_catalog(spec: PodSpec) -> bool:
    return AUTO in spec.gpu_type_ids or spec.max_cost_per_hour is not None or bool(spec.data_center_ids)


def creation_order(client: RunPodClient, spec: PodSpec) -> tuple[str, ...]:
    """The GPU types to try, in order. PodError, before anything is created, when none may be tried."""
    if not needs_catalog(spec):
        return spec.gpu_type_ids
    try:
        offers = tuple(client.catalog.offers(product="POD", count=spec.gpu_count, cloud=spec.cloud,
                                             min_cuda_version=spec.min_cuda_version))
        error = None
    except RunPodError as e:
        offers, error = None, str(e)
        pulumi.log.warn(f"{spec.describe()}: RunPod's GPU catalog could not be read ({e}): the listed GPU types are "
                        "tried in order, unpriced; the billed cost is still checked once the pod runs")
    pinned = spec.data_center_ids[0] if len(spec.data_center_ids) == 1 else None
    try:
        plan = plan_pod(spec.gpu_type_ids, offers=offers, fits=table_fits(spec.auto_gpu_type_ids), cloud=spec.cloud,
                        gpu_count=spec.gpu_count, max_cost_per_hour=spec.max_cost_per_hour, data_center=pinned,
                        catalog_error=error)
    except NoCandidate as e:
        raise PodError(f"{spec.describe()}: {e}. Nothing was created.") from None
    lines = describe_plan(plan, spec.gpu_type_ids)
    pulumi.log.info(f"{spec.describe()}: GPU types to try (CUDA ≥ {spec.min_cuda_version}"
                    f"{', in ' + pinned if pinned else ''}):\n  " + "\n  ".join(lines))
    return plan.gpu_type_ids
