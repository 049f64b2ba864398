"""The world the whole stack is deployed into by the end-to-end tests: fake RunPod and vLLM on 127.0.0.1.

The fake RunPod lists a 12.8-driver host first for every GPU type, and the built image demands CUDA 12.9 there:
only the pod's CUDA floor keeps it off the old host. The fake vLLM stands in for the pod's proxy URL and
enforces the key the fake RunPod received in the pod's environment. Plugin resources answer like their
plugins: the image build's Command prints buildx's metadata, RandomPassword makes a new password per create.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.engine import Backend, SimulatedStack
from tests.fakes.runpod_v2 import FakeRunPod, Timings
from tests.fakes.vllm import FakeVllm

POD = "pulumi-python:dynamic/runpod:Pod"
HEALTH = "pulumi-python:dynamic/vllm:HealthCheck"
COMMAND = "command:local:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
REPO = "ghcr.io/acme/autoglm-vllm"
DIGEST = "sha256:" + "5e" * 32
DEV = {"gpuTypes": ["NVIDIA L40S"], "imageRepository": REPO, "healthTimeoutMinutes": "1"}
PROD = {"gpuTypes": ["NVIDIA H100 PCIe"], "promoteFrom": "dev", "healthTimeoutMinutes": "1"}
TUNING = {"AUTOGLM_HEALTH_POLL_S": "0.05", "RUNPOD_POLL_INTERVAL_S": "0.02"}


@dataclass
class World:
    runpod: FakeRunPod
    vllm: FakeVllm
    env: dict[str, str]  # what the CLI's environment gives every provider host
    backend: Backend = field(default_factory=Backend)

    def stack(self, name: str, config: dict[str, Any], env: dict[str, str] | None = None,
              secret_keys: set[str] | None = None) -> SimulatedStack:
        stack = SimulatedStack(name, dict(config), env=dict(self.env if env is None else env),
                               secret_keys=secret_keys or set(), backend=self.backend,
                               rewrite_inputs=self.route_to_vllm)
        metadata = json.dumps({"containerimage.digest": DIGEST})
        stack.hooks[COMMAND] = lambda args: {"stdout": f"#1 building\n--- buildx metadata ---\n{metadata}"}
        stack.hooks[PASSWORD] = lambda args: {"result": f"generated-{name}-key-{secrets.token_hex(16)}"}
        return stack

    def route_to_vllm(self, typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """What DNS and the RunPod proxy do: the pod's URL reaches its server, which knows the pod's key."""
        pod_id = inputs.get("triggers", [None])[0]
        if typ != HEALTH or pod_id not in self.runpod.pods:  # preview: the pod id is not known yet
            return inputs
        pod = self.runpod.pods[pod_id]
        self.vllm.behaviour.api_key = pod.env.get("VLLM_API_KEY")
        return {**inputs, "base_url": self.vllm.v1_url}


@contextmanager
def running_world() -> Iterator[World]:
    with FakeRunPod(image_cuda={f"{REPO}@{DIGEST}": "12.9"}, timings=Timings(0.05, 0.1)) as runpod, \
            FakeVllm(load_delay_s=0.3) as vllm:
        yield World(runpod, vllm, {**TUNING, "RUNPOD_API_URL": runpod.base_url, "RUNPOD_API_KEY": runpod.api_key})


def ops(stack: SimulatedStack, typ: str) -> list[str]:
    """The steps the last command took for resources of type `typ`."""
    return [s.op for s in stack.steps if s.typ == typ]
