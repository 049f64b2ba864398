"""A seed's lifecycle, drawn up front: the steps, what each declares, and the faults each meets.

Everything random is drawn here from the seed alone, so a seed replays the same schedule whatever the
provider answered (only timing differs between runs). A lifecycle creates the pod, then mixes updates (env
changes, `running` false and true), replacements (a create while the namesake it replaces still runs, then
the namesake's delete, as Pulumi's create-before-delete does), refreshes, out-of-band stops, terminates and
crashes, and deletes, and ends with a delete.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from tests.chaos.faults import Injection, draw
from tests.chaos.knobs import GPU_TYPES

__all__ = ["CALL_OF", "Plan", "Step", "plan"]

# The provider call each step makes (out-of-band steps make none).
CALL_OF = {"create": "create", "replace": "create", "update_env": "update", "stop": "update", "start": "update",
           "refresh": "read", "delete": "delete"}
MIDDLE_STEPS = {"update_env": 3, "stop": 2, "start": 2, "refresh": 2, "replace": 2, "oob_stop": 1,
                "oob_terminate": 1, "oob_crash": 1, "delete": 1}


@dataclass(frozen=True)
class Step:
    kind: str
    faults: tuple[Injection, ...] = ()
    gpus: tuple[str, ...] = GPU_TYPES[:2]  # what a create asks for, in order
    running: bool = True  # what the step declares
    max_cost: float | None = None
    hf_token: str = ""

    def __str__(self) -> str:
        extra = f" gpus={list(self.gpus)} running={self.running}" if CALL_OF.get(self.kind) == "create" else ""
        cost = f" max_cost={self.max_cost}" if self.max_cost else ""
        faults = f" faults: {'; '.join(map(str, self.faults))}" if self.faults else ""
        return f"{self.kind}{extra}{cost}{faults}"


@dataclass(frozen=True)
class Plan:
    seed: int
    steps: tuple[Step, ...]
    vllm_key: str

    def hf_tokens(self) -> set[str]:
        return {s.hf_token for s in self.steps}


def _secret(rng: random.Random, prefix: str, length: int = 24) -> str:
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def plan(seed: int) -> Plan:
    rng = random.Random(seed)
    token = _secret(rng, "hf_")
    kinds = ["create", *rng.choices(list(MIDDLE_STEPS), weights=list(MIDDLE_STEPS.values()), k=rng.randint(2, 5)),
             "delete"]
    steps: list[Step] = []
    running = True
    for kind in kinds:
        if kind == "update_env":
            token = _secret(rng, "hf_")
        if kind in ("stop", "start"):
            running = kind == "start"
        elif CALL_OF.get(kind) == "create":
            running = rng.random() > 0.15
        gpus = tuple(rng.sample(GPU_TYPES, rng.randint(1, 3)))
        max_cost = 0.5 if rng.random() < 0.05 else None
        faults = tuple(draw(rng, CALL_OF[kind])) if kind in CALL_OF else ()
        steps.append(Step(kind, faults, gpus, running, max_cost, token))
    return Plan(seed, tuple(steps), _secret(rng, "vk-", 40))
