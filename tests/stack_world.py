"""The world the whole stack is deployed into by the end-to-end tests: a real registry and fake RunPod and vLLM
on 127.0.0.1.

The fake RunPod lists a 12.8-driver host first for every GPU type (then 12.9, then 13.0), and the built image
demands CUDA 12.9 there: only the pod's CUDA floor, read from the image's config in the registry, keeps it off
the old host. The fake vLLM stands in for the pod's proxy URL and enforces the key the fake RunPod received in
the pod's environment; for a serverless endpoint it stands behind the fake's load balancer, which answers for
`https://{id}.api.runpod.ai` on loopback. A pod that mounts a network volume gets a vLLM fake of its own whose
Hugging Face cache is on that volume's storage (a directory the fake RunPod keeps per volume): its start
downloads the model for `DOWNLOAD_S` seconds unless an earlier pod on the volume left it there. What DNS does
for ghcr.io, the input rewrite does for the loopback registry. Plugin resources answer like their plugins: the
image build's Command prints buildx's metadata, RandomPassword makes a new password per create.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.service.live_catalog import live_offers
from tests.engine import Backend, SimulatedStack
from tests.fakes.runpod import DEFAULT_GPU_TYPES, FakeHost, FakeRunPod, LoadBalancer, Timings, default_hosts
from tests.fakes.vllm import FakeVllm
from tests.registry import CUDA_130_ENV, LocalRegistry, cuda_image

POD = "pulumi-python:dynamic/runpod:Pod"
ENDPOINT = "pulumi-python:dynamic/runpod:Endpoint"
VOLUME = "pulumi-python:dynamic/runpod:Volume"
DOWNLOAD_S = 3.0  # the weights' download on a cold cache (20 GB at ~0.1–0.5 GB/s in life)
HEALTH = "pulumi-python:dynamic/vllm:HealthCheck"
FACTS = "pulumi-python:dynamic/registry:ImageFacts"
COMMAND = "command:local:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
REPO = "ghcr.io/acme/autoglm-vllm"
IMAGE = cuda_image(name="autoglm-vllm")  # a CUDA 12.9 image, as vLLM 0.12.0's (also pushed as vllm/vllm-openai)
DIGEST = IMAGE.digest
CU13_REPO = "ghcr.io/acme/autoglm-vllm-cu13"
CU13_IMAGE = cuda_image(CUDA_130_ENV, name="autoglm-vllm-cu13")  # says cuda>=13.0 where the table says 12.9
DEV = {"gpuTypes": ["NVIDIA L40S"], "imageRepository": REPO, "healthTimeoutMinutes": "1"}
PROD = {"gpuTypes": ["NVIDIA H100 PCIe"], "promoteFrom": "dev", "healthTimeoutMinutes": "1"}
TUNING = {"AUTOGLM_HEALTH_POLL_S": "0.05", "RUNPOD_POLL_INTERVAL_S": "0.02"}


@dataclass
class World:
    runpod: FakeRunPod
    vllm: FakeVllm
    registry: LocalRegistry
    env: dict[str, str]  # what the CLI's environment gives every provider host
    balancer: LoadBalancer  # {id}.api.runpod.ai of every serverless endpoint, in front of the vLLM fake
    backend: Backend = field(default_factory=Backend)
    pod_servers: dict[str, FakeVllm] = field(default_factory=dict)  # pods on a volume: their own vLLM fake

    def stack(self, name: str, config: dict[str, Any], env: dict[str, str] | None = None,
              secret_keys: set[str] | None = None, digest: str = DIGEST) -> SimulatedStack:
        stack = SimulatedStack(name, dict(config), env=dict(self.env if env is None else env),
                               secret_keys=secret_keys or set(), backend=self.backend,
                               rewrite_inputs=self.route)
        metadata = json.dumps({"containerimage.digest": digest})
        stack.hooks[COMMAND] = lambda args: {"stdout": f"#1 building\n--- buildx metadata ---\n{metadata}"}
        stack.hooks[PASSWORD] = lambda args: {"result": f"generated-{name}-key-{secrets.token_hex(16)}"}
        return stack

    def serverless(self, config: dict[str, Any]) -> dict[str, Any]:
        """`config` deployed serverless, with the RunPod key and URL in the stack's config (the program reads the
        catalog with them; set `secret_keys={"runpodApiKey"}`)."""
        return {**config, "deployment": "serverless", "runpodApiKey": self.runpod.api_key,
                "runpodApiUrl": self.runpod.base_url}

    def route(self, typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """What DNS and the RunPod proxy do: ghcr.io is the loopback registry, the pod's URL reaches its server,
        which knows the pod's key, and an endpoint's URL its load balancer."""
        if typ == FACTS and isinstance(inputs.get("image"), str):
            return {**inputs, "image": f"{self.registry.host}/{_registry_path(inputs['image'])}"}
        endpoint = self.runpod.endpoints.get(inputs.get("endpoint_id") or "") if typ == HEALTH else None
        if endpoint is not None:
            self.vllm.behaviour.api_key = endpoint.body["env"].get("VLLM_API_KEY")
            return {**inputs, "base_url": self.balancer.url(endpoint.id) + "/v1"}
        pod_id = inputs.get("triggers", [None])[0]
        if typ != HEALTH or pod_id not in self.runpod.pods:  # preview: the pod id is not known yet
            return inputs
        pod = self.runpod.pods[pod_id]
        server = self.server_of(pod_id)
        server.behaviour.api_key = pod.env.get("VLLM_API_KEY")
        return {**inputs, "base_url": server.v1_url}

    def server_of(self, pod_id: str) -> FakeVllm:
        """The vLLM behind a pod: its own when it mounts a volume (started now, reading the volume's cache)."""
        pod = self.runpod.pods[pod_id]
        mounts = pod.mounts.get("network") or []
        volume = self.runpod.volumes.get(mounts[0]["volumeId"]) if mounts else None
        if volume is None or volume.root is None:
            return self.vllm
        if pod_id not in self.pod_servers:
            self.pod_servers[pod_id] = FakeVllm(hf_home=volume.root / "hf", download_s=DOWNLOAD_S).start()
        return self.pod_servers[pod_id]


@contextmanager
def running_world(registry: LocalRegistry, docker_config: Path) -> Iterator[World]:
    """The fakes, and the registry holding the stack's images (public), with the user's `docker login` for
    private ones in `docker_config` (the provider hosts inherit `pulumi up`'s environment)."""
    registry.tokens.public |= {"acme/autoglm-vllm", "acme/autoglm-vllm-cu13", "acme/autoglm-vllm-next",
                               "vllm/vllm-openai"}
    registry.push("acme/autoglm-vllm", IMAGE)
    registry.push("acme/autoglm-vllm-next", IMAGE)  # a rebuild (the build hook reports the same digest)
    registry.push("acme/autoglm-vllm-cu13", CU13_IMAGE)
    registry.push("vllm/vllm-openai", IMAGE, tag="v0.12.0")  # a ready image on Docker Hub
    auth = base64.b64encode(b"ci-user:ci-secret-password-1234").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    image_cuda = {f"{REPO}@{DIGEST}": "12.9", f"{CU13_REPO}@{CU13_IMAGE.digest}": "13.0"}
    hosts = default_hosts() + [FakeHost(g.id, "13.0", 8, "EU-SE-1") for g in DEFAULT_GPU_TYPES]
    live_offers.cache_clear()  # the program's catalog reads are cached per process; each world is a new RunPod
    with FakeRunPod(image_cuda=image_cuda, hosts=hosts, timings=Timings(0.05, 0.1),
                    volume_root=docker_config / "volumes") as runpod, FakeVllm(load_delay_s=0.3) as vllm:
        world = World(runpod, vllm, registry, {**TUNING, "DOCKER_CONFIG": str(docker_config),
                                               "RUNPOD_API_URL": runpod.base_url, "RUNPOD_API_KEY": runpod.api_key},
                      runpod.balancer(vllm.base_url))
        try:
            yield world
        finally:
            for server in world.pod_servers.values():
                server.close()


def _registry_path(image: str) -> str:
    """Where an image reference points inside its registry: `ghcr.io/acme/x:t` → `acme/x:t`, and Docker Hub's
    spellings (`vllm/x`, `docker.io/vllm/x`, `index.docker.io/vllm/x`) → `vllm/x`."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return image


def ops(stack: SimulatedStack, typ: str) -> list[str]:
    """The steps the last command took for resources of type `typ`."""
    return [s.op for s in stack.steps if s.typ == typ]
