"""The stack served by one RunPod pod: its launch environment, the `Pod`, its URL and its outputs."""

from __future__ import annotations

from typing import Any

import pulumi

from components.names import resource_name
from components.providers.pod import Pod, PodArgs
from components.service.cache import CACHE_MOUNT_PATH, ModelCache
from components.service.images import ImageChoice
from components.service.launch import SERVED_PORT, container_launch, launch_fingerprint
from components.settings import Secrets, Settings

__all__ = ["OWN_VOLUME_MOUNT_PATH", "PodDeployment"]

OWN_VOLUME_MOUNT_PATH = "/workspace"  # a volume of your own (networkVolumeId), where existing stacks have it


class PodDeployment:
    """`base_url` is the OpenAI-compatible URL; `serving` says whether a health check can probe it now;
    `triggers` change when the server behind the URL does (a new pod, image or launch)."""

    def __init__(self, name: str, s: Settings, secrets: Secrets, image: ImageChoice,
                 api_key: pulumi.Output[str] | None, parent: pulumi.Resource, cache: ModelCache | None = None) -> None:
        args = _pod_args(name, s, secrets, image, api_key, cache)
        self.pod = Pod(f"{name}-pod", args, pulumi.ResourceOptions(
            parent=parent, custom_timeouts=pulumi.CustomTimeouts(create=f"{s.health_timeout_minutes + 10}m")))
        self.base_url: pulumi.Output[str] = self.pod.endpoint_url.apply(lambda url: f"{url}/v1")
        self.serving = s.running
        # A new pod, image or launch (an env change restarts the pod in place): the server must be checked again.
        self.triggers: list[pulumi.Input[str]] = [self.pod.pod_id, image.ref, launch_fingerprint(args.env, args.args)]
        self.resource: pulumi.Resource = self.pod  # what the health check waits for
        self.endpoint_id: pulumi.Output[str] | None = None  # no serverless endpoint to watch

    def exports(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "pod_id": self.pod.pod_id,
            "pod_status": self.pod.status,
            "gpu_type": self.pod.gpu_type_id,
            "host_cuda_version": self.pod.cuda_version,
            "cost_per_hour": self.pod.cost_per_hr,
        }


def _pod_args(name: str, s: Settings, secrets: Secrets, image: ImageChoice,
              api_key: pulumi.Output[str] | None, cache: ModelCache | None) -> PodArgs:
    # A volume of your own stays at /workspace, where existing stacks mount it; the managed cache mounts where
    # serverless workers see volumes. Either way the caches sit at hf/ and vllm/ inside the volume.
    mount_path = CACHE_MOUNT_PATH if cache else OWN_VOLUME_MOUNT_PATH
    env, args = container_launch(s, secrets, image, mount_path if s.has_volume else None)
    if api_key is not None:
        env["VLLM_API_KEY"] = api_key
    return PodArgs(
        name=resource_name(s.stack, f"{name}-pod"),
        image=image.ref,
        gpu_type_ids=list(s.gpu_types),
        auto_gpu_type_ids=list(s.auto_gpu_types) or None,
        gpu_count=s.gpu_count,
        cloud=s.cloud,
        min_cuda_version=image.facts.cuda_floor,  # the image's own gate, not the table's
        container_disk_gb=s.container_disk_gb,
        ports=[f"{SERVED_PORT}/http"],
        env=env,
        args=args,
        network_volume_id=cache.volume.volume_id if cache else s.network_volume_id,
        volume_mount_path=mount_path,
        registry_auth_id=s.registry_auth_id,
        max_cost_per_hour=s.max_cost_per_hour,
        ready_timeout_s=s.health_timeout_minutes * 60,
        running=s.running,
        data_center_ids=cache.data_center_ids if cache else None,
    )
