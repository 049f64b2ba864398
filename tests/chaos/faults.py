"""The fault kinds a lifecycle step may meet, each drawn from the step's random stream and staged on the fake.

A fault is drawn as plain data (`Injection`: a kind and its parameters), so a seed fixes every fault whatever
the provider does; `stage` puts it on the fake and returns how to take back what outlives the step (GPUs
another tenant held). Faults the step did not use are dropped after it (`FakeRunPod.faults`), so each step
meets its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from components.names import provisional_name
from tests.chaos.knobs import LATE_LANDING_S, NAME, NO_ANSWER_S
from tests.fakes.runpod import FakeRunPod
from tests.fakes.runpod.model import version

FLOOR = version("12.9")  # the campaign's image floor (lifecycle.py)

__all__ = ["KINDS_BY_CALL", "Injection", "draw", "stage"]

POD = r"/v2/pods/[^/]+"
READ_PATHS = ("/v2/pods", POD)
# How a request is answered when it is not answered well: status, HTML page, dropped, or too late to matter.
ANSWERS: dict[str, dict[str, Any]] = {
    "500": {"status": 500}, "503": {"status": 503}, "502-html": {"status": 502, "html": True},
    "reset": {"status": None, "drop": True}, "no-answer": {"status": 500, "delay_s": NO_ANSWER_S},
    "429": {"status": 429},
}
Undo = Callable[[], None]


@dataclass(frozen=True)
class Injection:
    kind: str
    params: tuple[tuple[str, Any], ...]

    def get(self, key: str) -> Any:
        return dict(self.params)[key]

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(f'{k}={v}' for k, v in self.params)})"


def _lost_create(rng: random.Random) -> dict[str, Any]:
    made = rng.choice(["never", "now", "later"])
    return {"answer": rng.choice(["500", "502-html", "503", "reset", "no-answer"]), "made": made,
            "after_s": round(rng.uniform(*LATE_LANDING_S), 2) if made == "later" else 0, "times": rng.choice([1, 1, 2])}


def _capacity_held(rng: random.Random) -> dict[str, Any]:
    return {**_lost_create(rng), "which": rng.randint(0, 1), "made": "later", "times": 1,
            "after_s": round(rng.uniform(*LATE_LANDING_S), 2)}


DRAWS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "lost_create": _lost_create,
    "late_while_starting": lambda rng: {**_lost_create(rng), "made": "later", "times": 1,
                                        "after_s": round(rng.uniform(*LATE_LANDING_S), 2)},
    "no_capacity": lambda rng: {"which": rng.randint(0, 2)},
    "capacity_held": _capacity_held,
    "echo_400": lambda rng: {"path": "/v2/pods", "method": "POST", "times": rng.choice([1, 2])},
    "fate": lambda rng: {"fate": rng.choice(["slow", "stuck_starting", "error", "exited", "echo_env"])},
    "below_floor": lambda rng: {},
    "outage": lambda rng: {"path": rng.choice(READ_PATHS), "answer": rng.choice(["503", "502-html", "429", "reset"]),
                           "times": rng.randint(1, 8)},
    "rate_limited": lambda rng: {"method_path": rng.choice([("GET", POD), ("GET", "/v2/pods"), ("POST", "/v2/pods"),
                                                            ("POST", POD + "/action")]), "times": rng.randint(5, 12)},
    "delete_500": lambda rng: {"times": rng.randint(1, 3), "applied": rng.random() < 0.5},
    "patch_fault": lambda rng: {"answer": rng.choice(["500", "reset", "no-answer"]), "applied": rng.random() < 0.5},
    "patch_echo": lambda rng: {"path": POD, "method": "PATCH", "times": 1},
    "action_fault": lambda rng: {"answer": rng.choice(["500", "429", "reset"]), "times": rng.randint(1, 3),
                                 "applied": rng.random() < 0.5},
    "host_full": lambda rng: {},
    "left_over": lambda rng: {"which": rng.randint(0, 2), "status": rng.choice(["STARTING", "RUNNING", "EXITED"]),
                              "old": rng.random() < 0.7},
}
# A create's PATCH is the rename once its pod runs; `left_over` is a pod an unfinished create (a `pulumi up`
# ended mid-create) left under the provisional name: `old`, left an hour ago; else just now, as a `pulumi up`
# running beside a refresh (`pulumi preview --refresh` takes no lock) would have it.
KINDS_BY_CALL: dict[str, tuple[str, ...]] = {
    "create": ("lost_create", "lost_create", "late_while_starting", "no_capacity", "capacity_held", "echo_400",
               "fate", "fate", "below_floor", "outage", "rate_limited", "delete_500", "patch_fault", "left_over"),
    "update": ("patch_fault", "patch_echo", "outage", "rate_limited", "action_fault", "host_full", "delete_500"),
    "read": ("outage", "rate_limited", "left_over"),
    "delete": ("delete_500", "delete_500", "outage", "rate_limited", "left_over"),
}


def draw(rng: random.Random, call: str) -> list[Injection]:
    """0–3 faults for one provider call of kind `call`."""
    kinds = [rng.choice(KINDS_BY_CALL[call]) for _ in range(rng.choice([0, 1, 1, 2, 2, 3]))]
    return [Injection(kind, tuple(sorted(DRAWS[kind](rng).items()))) for kind in kinds]


def stage(fake: FakeRunPod, injection: Injection, *, pod_id: str | None, gpus: tuple[str, ...]) -> Undo | None:
    """Put one fault on the fake (`pod_id`: the resource's pod, if any; `gpus`: the GPU types the step asks
    for, in order); returns how to undo what outlives the step, if anything."""
    p = dict(injection.params)
    kind = injection.kind
    if "which" in p:
        p["gpu"] = gpus[p["which"] % len(gpus)]
    if kind in ("lost_create", "capacity_held", "late_while_starting"):
        undo = _hold_all_but_one(fake, p["gpu"]) if kind == "capacity_held" else None
        if kind == "late_while_starting":  # the late pod lands while the next create's pod is slow to start
            fake.next_pods("ok")
            fake.next_pods("slow")
        made = {"never": {}, "now": {"after_apply": True}, "later": {"land_after_s": p["after_s"]}}[p["made"]]
        answer = dict(ANSWERS[p["answer"]])
        fake.inject("POST", "/v2/pods", answer.pop("status"), times=p["times"], **answer, **made)
        return undo
    if kind == "no_capacity":
        return _take_gpus(fake, lambda h: h.gpu_type_id == p["gpu"])
    if kind in ("echo_400", "patch_echo"):
        fake.inject(p["method"], p["path"], 400, times=p["times"], echo_env=True,
                    detail="invalid container configuration")
    elif kind == "fate":
        fake.next_pods(p["fate"])
    elif kind == "below_floor":
        fake.inject("POST", "/v2/pods", None, below_floor=True)
    elif kind == "outage":
        answer = dict(ANSWERS[p["answer"]])
        fake.inject("GET", p["path"], answer.pop("status"), times=p["times"], **answer)
    elif kind == "rate_limited":
        method, path = p["method_path"]
        fake.inject(method, path, 429, times=p["times"])
    elif kind == "delete_500":
        fake.inject("DELETE", POD, 500, times=p["times"], after_apply=p["applied"])
    elif kind in ("patch_fault", "action_fault"):
        method, path = ("PATCH", POD) if kind == "patch_fault" else ("POST", POD + "/action")
        answer = dict(ANSWERS[p["answer"]])
        fake.inject(method, path, answer.pop("status"), times=p.get("times", 1), after_apply=p["applied"], **answer)
    elif kind == "left_over":
        left = fake.add_pod(provisional_name(NAME), gpu_type_id=p["gpu"], status=p["status"])
        if p.get("old", True):
            left.created_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    elif kind == "host_full" and pod_id in fake.pods:
        host = fake.pods[pod_id].host
        return _take_gpus(fake, lambda h: h is host)
    return None


def _take_gpus(fake: FakeRunPod, which: Callable[[Any], bool], leave: int = 0) -> Undo:
    """Another tenant holds the free GPUs of the hosts `which` picks (all but `leave` on each)."""
    with fake.cloud.lock:
        taken = [(h, max(0, h.free_gpus - leave)) for h in fake.hosts if which(h)]
        for h, n in taken:
            h.free_gpus -= n

    def undo() -> None:
        with fake.cloud.lock:
            for h, n in taken:
                h.free_gpus += n

    return undo


def _hold_all_but_one(fake: FakeRunPod, gpu: str) -> Undo:
    """One GPU of the type left, on its current host: a create that lands later holds it, so the retry finds
    none (the issue's silent leak)."""
    old = _take_gpus(fake, lambda h: h.gpu_type_id == gpu and version(h.cuda_version) < FLOOR)
    rest = _take_gpus(fake, lambda h: h.gpu_type_id == gpu and version(h.cuda_version) >= FLOOR, leave=1)

    def undo() -> None:
        old()
        rest()

    return undo
