"""One seed's lifecycle run against a fresh RunPod fake through the real provider host, as Pulumi would drive
the pod resource: the state (the resource's pod and outputs) is kept here, each step stages its faults, makes
its call, waits for every pod RunPod may still land, and is checked (`checks`) before the next one runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.names import provisional_name
from components.providers.pod import POD_TYPE, PodProvider
from components.providers.pod_inputs import POD_INPUTS
from tests.chaos import knobs
from tests.chaos.checks import Observation, check
from tests.chaos.faults import Undo, stage
from tests.chaos.plan import CALL_OF, Plan, Step
from tests.fakes.runpod import FakeRunPod
from tests.provider_host import Host, HostError, provider_host

__all__ = ["Outcome", "run_plan"]

State = tuple[str, dict[str, Any]]  # the resource's pod id and outputs, as Pulumi's state holds them


@dataclass
class Outcome:
    seed: int
    observations: list[Observation] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_plan(plan: Plan) -> Outcome:
    """A fresh fake and a fresh provider host (it configures a provider once per process), the key and URL
    given as stack config, as `pulumi up` gives them."""
    started = time.monotonic()
    with FakeRunPod(api_key=knobs.API_KEY, timings=knobs.TIMINGS, image_cuda={knobs.IMAGE: "12.9"}) as fake:
        config = {"autoglm-runpod:runpodApiKey": knobs.API_KEY, "autoglm-runpod:runpodApiUrl": fake.base_url}
        with provider_host(PodProvider(), POD_TYPE, env=knobs.host_env(), config=config, stack="chaos") as host:
            run = _Run(plan, host, fake)
            run.all_steps()
    run.outcome.seconds = time.monotonic() - started
    return run.outcome


class _Run:
    def __init__(self, plan: Plan, host: Host, fake: FakeRunPod) -> None:
        self.plan, self.host, self.fake = plan, host, fake
        self.state: State | None = None
        self.replaced: list[State] = []  # predecessors whose delete failed: Pulumi retries them
        self.outcome = Outcome(plan.seed)
        self.secrets = {knobs.API_KEY, plan.vllm_key, *plan.hf_tokens()}

    def all_steps(self) -> None:
        for index, step in enumerate(self.plan.steps):
            self.outcome.trace.append(f"step {index}: {step}")
            undo = [u for f in step.faults
                    if (u := stage(self.fake, f, pod_id=self.state[0] if self.state else None, gpus=step.gpus))]
            try:
                self.step(index, step)
            finally:
                self.settle_step(undo)
        self.fake.faults.clear()
        end = len(self.plan.steps)
        if self.fake.pods_named(provisional_name(knobs.NAME)):  # a call that could not list said so: the next up
            self.create(end, Step("create"), "next up")
        for state in [*self.replaced, *([self.state] if self.state else [])]:
            self.delete(end, "cleanup delete", state)
        left = self.fake.pods_named(knobs.NAME) + self.fake.pods_named(provisional_name(knobs.NAME))
        if left:
            self.violation(end, f"after the last delete pods still live: {[(p.id, p.status) for p in left]}")

    def step(self, index: int, step: Step) -> None:
        kind = step.kind
        if kind.startswith("oob_"):
            self.out_of_band(kind)
        elif CALL_OF[kind] == "create" or self.state is None:
            self.create(index, step, "replace" if kind == "replace" and self.state else "create")
        elif kind == "refresh":
            self.refresh(index, self.state)
        elif kind == "delete":
            if self.delete(index, "delete", self.state):
                self.delete(index, "delete again", self.state)
                self.state = None
        else:
            self.update(index, step, self.state)

    def settle_step(self, undo: list[Undo]) -> None:
        """What a step staged does not outlive it: unused faults and fates, GPUs held by another tenant."""
        self.fake.wait_landings(knobs.LANDING_GRACE_S + 2)
        self.fake.faults.clear()
        with self.fake.cloud.lock:
            self.fake.cloud.fates.clear()
        for u in undo:
            u()

    # ---- the calls ---------------------------------------------------------------------------------------------

    def create(self, index: int, step: Step, label: str) -> None:
        props = {"name": knobs.NAME, "image": knobs.IMAGE, "gpu_type_ids": list(step.gpus),
                 "min_cuda_version": "12.9", "ports": ["8000/http"], "env": self.env(step.hf_token),
                 "ready_timeout_s": knobs.READY_TIMEOUT_S, "running": step.running}
        if step.max_cost is not None:
            props["max_cost_per_hour"] = step.max_cost
        obs = self.call(index, label, "create", None, step.running,
                        lambda: self.host.create(self.checked(props)))
        if obs.error is None and obs.pod_id is not None and obs.outs is not None:
            if label == "replace" and self.state is not None and not self.delete(index, "delete replaced",
                                                                                 self.state):
                self.replaced.append(self.state)
            self.state = (obs.pod_id, obs.outs)

    def update(self, index: int, step: Step, state: State) -> None:
        pod_id, outs = state
        declared = {k: outs[k] for k in POD_INPUTS.keys if k in outs}
        if step.kind == "update_env":
            declared["env"] = self.env(step.hf_token)
        else:
            declared["running"] = step.kind == "start"
        obs = self.call(index, step.kind, "update", pod_id, bool(declared.get("running", True)),
                        lambda: (pod_id, self.host.update(pod_id, outs, self.checked(declared))))
        if obs.error is None and obs.outs is not None:
            self.state = (pod_id, obs.outs)

    def refresh(self, index: int, state: State) -> None:
        pod_id, outs = state
        obs = self.call(index, "refresh", "read", pod_id, True, lambda: self.host.read(pod_id, outs))
        if obs.error is None:
            self.state = (pod_id, obs.outs) if obs.outs is not None else None

    def delete(self, index: int, label: str, state: State) -> bool:
        pod_id, outs = state

        def delete() -> tuple[str, dict[str, Any]]:
            self.host.delete(pod_id, outs)
            return pod_id, {}

        return self.call(index, label, "delete", pod_id, True, delete).error is None

    def out_of_band(self, kind: str) -> None:
        pod_id = self.state[0] if self.state else ""
        if pod_id not in self.fake.pods or self.fake.status_of(pod_id) == "TERMINATED":
            return
        {"oob_stop": self.fake.stop_out_of_band, "oob_terminate": self.fake.terminate_out_of_band,
         "oob_crash": self.fake.crash}[kind](pod_id)

    # ---- plumbing ----------------------------------------------------------------------------------------------

    def call(self, index: int, label: str, call: str, pod_id: str | None, running: bool,
             make: Callable[[], tuple[str, dict[str, Any]]]) -> Observation:
        obs = Observation(index, label, call, self.fake.clock(), frozenset(self.fake.pods), pod_id=pod_id,
                          running=running, names_before={p.id: p.name for p in self.fake.live_pods()})
        logged = len(self.host.stderr())
        try:
            got_id, outs = make()
            obs.pod_id = got_id or obs.pod_id
            obs.outs = outs if got_id else None
        except HostError as e:
            obs.error = e
        obs.ended = self.fake.clock()
        self.fake.wait_landings(knobs.LANDING_GRACE_S + 2)
        obs.stderr = self.host.stderr()[logged:]
        self.outcome.observations.append(obs)
        self.outcome.trace.append(f"  {obs}")
        for broken in check(obs, self.fake, self.secrets):
            self.violation(index, f"{label}: {broken}")
        return obs

    def checked(self, props: dict[str, Any]) -> dict[str, Any]:
        inputs, failures = self.host.check(props)
        assert failures == [], failures
        return inputs

    def env(self, hf_token: str) -> dict[str, str]:
        return {"MODEL": "zai-org/AutoGLM-Phone-9B", "HF_TOKEN": hf_token, "VLLM_API_KEY": self.plan.vllm_key}

    def violation(self, index: int, text: str) -> None:
        self.outcome.violations.append(f"seed {self.plan.seed} step {index} {text}")
        self.outcome.trace.append(f"  VIOLATION: {text}")
