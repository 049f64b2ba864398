"""The promises checked after every provider call, from the fake's own ledger (its pods, their billing
intervals, the requests it answered), never from what the provider says about itself:

- a failed create leaves no live pod of its own behind; a successful one leaves exactly the pod it returned,
  which the fake holds RUNNING (EXITED when `running` is false), as the outputs say;
- two pods of one resource never bill together for longer than one poll interval, not counting the time
  RunPod spent failing or stalling the provider's requests (each failure earns one poll interval of pause);
- a successful create's pod carries the resource's name (it is created under the provisional name, and renamed
  only once it runs as declared);
- a pod an unfinished create left under the provisional name is ended by the next create, refresh or delete
  (unless listing pods failed, or RunPod would not end it, and the call said so), and no call ends a pod under
  the resource's name but the one it deletes;
- a successful update leaves the pod as declared; a refresh that drops the pod saw it gone;
- after a successful delete the pod is gone, and a second delete is a no-op that succeeds;
- every failed call's error is the provider's own (PodError, or RunPod's error types) and names a cause, and
  what it says of a pod's billing (terminated, or still billing) is what the fake holds;
- no secret (the RunPod key, any HF token, the vLLM key) appears in an error, a log line or an output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from components.names import provisional_name
from tests.chaos.knobs import NAME, OVERLAP_SLACK_S, POLL_S, SLOW_REQUEST_S
from tests.fakes.runpod import FakeRunPod, RecordedRequest
from tests.provider_host import HostError

__all__ = ["Observation", "check"]

CREATING = provisional_name(NAME)
_OWN_ERROR = re.compile(r"^(components\.providers\.pod_rules\.PodError|components\.runpod\.errors\.\w+): (.{20,})$")


@dataclass
class Observation:
    """One provider call of a lifecycle, as the campaign saw it."""

    step: int
    label: str
    call: str  # create, update, read, delete
    started: float
    before: frozenset[str]  # every pod id the fake held before the call
    names_before: dict[str, str] = field(default_factory=dict)  # the live ones: id -> name
    ended: float = 0.0
    pod_id: str | None = None  # the resource's pod: the one acted on, or the one a create returned
    outs: dict[str, Any] | None = None
    error: HostError | None = None
    stderr: str = ""
    running: bool = True  # what the call declared
    overlaps: list[tuple[float, float]] = field(default_factory=list)  # (seconds two pods billed together, allowed)

    def __str__(self) -> str:
        outcome = f"failed: {self.error.message[:300]}" if self.error else f"ok ({self.pod_id})"
        return f"step {self.step} {self.label}: {outcome}"


def check(obs: Observation, fake: FakeRunPod, secrets: set[str]) -> list[str]:
    """Every promise this call broke, each as one sentence."""
    broken = _hygiene(obs, secrets)
    live = {p.id: p.status for p in fake.live_pods()}
    made = [pid for pid in fake.pods if pid not in obs.before]
    if obs.call == "create":
        broken += _after_create(obs, fake, live, made)
    elif obs.call == "update" and obs.error is None and obs.pod_id is not None:
        want = "RUNNING" if obs.running else "EXITED"
        got = live.get(obs.pod_id)
        if got != want or (obs.outs or {}).get("status") != want:
            broken.append(f"update declared {want}; the fake holds {got}, the outputs say "
                          f"{(obs.outs or {}).get('status')}")
    elif obs.call == "read" and obs.error is None and obs.pod_id is not None:
        gone = obs.outs is None
        if gone == (obs.pod_id in live):
            broken.append(f"refresh said the pod is {'gone' if gone else 'there'}; the fake says otherwise")
    elif obs.call == "delete" and obs.error is None and obs.pod_id in live:
        broken.append(f"delete succeeded but pod {obs.pod_id} is still {live[obs.pod_id]}")
    if obs.label == "delete again" and obs.error is not None:
        broken.append("a second delete is not a no-op: it failed")
    broken += _claims(obs, live)
    broken += _names(obs, fake, live)
    broken += _overlaps(obs, fake, made)
    return broken


def _names(obs: Observation, fake: FakeRunPod, live: dict[str, str]) -> list[str]:
    """Pods under the provisional name are ended; pods under the resource's name are left alone."""
    broken = [f"call ended pod {pid}, named {NAME!r}, which it was not deleting"
              for pid, name in obs.names_before.items()
              if name == NAME and pid not in live and not (obs.call == "delete" and pid == obs.pod_id)]
    error = obs.error.message if obs.error else ""
    excused = ("could not look for pods an unfinished create" in obs.stderr or "RunPod GET /v2/pods:" in error
               or (obs.call == "delete" and obs.error is not None) or obs.call == "update")
    for pid, name in obs.names_before.items():
        said = f"pod {pid}: Terminating pod {pid} failed" in obs.stderr
        # A refresh may run beside an up that creates: it spares, and names, a provisional pod younger than a create.
        spared = (obs.call == "read" and f"pod {pid} ({CREATING}: " in obs.stderr
                  and "may be creating it now" in obs.stderr)
        young = _age_s(fake, pid) < 600
        if name == CREATING and obs.call == "read" and young and pid not in live:
            broken.append(f"a refresh ended pod {pid}, under {CREATING!r} and only {_age_s(fake, pid):.0f} s old: "
                          "a running create's, for all it knew")
        if name == CREATING and pid in live and not excused and not said and not spared:
            broken.append(f"pod {pid}, left under {CREATING!r} by an unfinished create, is still {live[pid]}")
    made = fake.pods.get(obs.pod_id or "")
    if obs.call == "create" and obs.error is None and made is not None and made.name != NAME:
        broken.append(f"create returned pod {obs.pod_id} named {made.name!r}, not {NAME!r}")
    return broken


def _age_s(fake: FakeRunPod, pod_id: str) -> float:
    created = datetime.fromisoformat(fake.pods[pod_id].created_at)
    return (datetime.now(UTC) - created).total_seconds()


_ENDED = re.compile(r"Pod (\w+) (?:was terminated|is already gone), so it does not bill")
_STILL_BILLING = re.compile(r"Terminating pod (\w+) failed .*?: RunPod still shows it")


def _claims(obs: Observation, live: dict[str, str]) -> list[str]:
    """What the error says of a pod's billing is what the fake holds."""
    text = obs.error.message if obs.error else ""
    broken = [f"the error says pod {pid} does not bill, but it is {live[pid]}"
              for pid in _ENDED.findall(text) if pid in live]
    broken += [f"the error says pod {pid} still bills, but it is gone"
               for pid in _STILL_BILLING.findall(text) if pid not in live]
    return broken


def _hygiene(obs: Observation, secrets: set[str]) -> list[str]:
    broken = []
    if obs.error is not None and not _OWN_ERROR.match(obs.error.message):
        broken.append(f"the error is not the provider's own or names no cause: {obs.error.message[:300]!r}")
    outputs = {k: v for k, v in (obs.outs or {}).items() if k != "env"}  # env is a secret output on purpose
    texts = {"error": obs.error.details if obs.error else "", "log": obs.stderr, "outputs": repr(outputs)}
    for where, text in texts.items():
        leaked = sorted(s for s in secrets if s and s in text)
        if leaked:
            broken.append(f"a secret ({leaked[0][:6]}…) appears in the {where}")
    return broken


def _after_create(obs: Observation, fake: FakeRunPod, live: dict[str, str], made: list[str]) -> list[str]:
    mine = sorted(pid for pid in made if pid in live)
    if obs.error is not None:
        return [f"a failed create left pod {pid} {live[pid]}" for pid in mine]
    want = "RUNNING" if obs.running else "EXITED"
    broken = []
    if obs.pod_id not in made:
        broken.append(f"create returned {obs.pod_id}, which no create of this call made")
    if mine != [obs.pod_id]:
        broken.append(f"create returned {obs.pod_id} but left live {[(p, live[p]) for p in mine]}")
    if live.get(obs.pod_id or "") != want or (obs.outs or {}).get("status") != want:
        broken.append(f"create declared {want}; the fake holds {live.get(obs.pod_id or '')}, the outputs say "
                      f"{(obs.outs or {}).get('status')}")
    return broken


def _overlaps(obs: Observation, fake: FakeRunPod, made: list[str]) -> list[str]:
    broken = []
    now = fake.clock()
    spans = {pid: [(a, now if b is None else b) for a, b in fake.billing(pid)] for pid in made}
    for p, q in combinations(made, 2):
        for a1, b1 in spans[p]:
            for a2, b2 in spans[q]:
                start, end = max(a1, a2), min(b1, b2)
                if end <= start:
                    continue
                allowed = POLL_S + OVERLAP_SLACK_S + _excused(fake, start, end)
                obs.overlaps.append((end - start, allowed))
                if end - start > allowed:
                    broken.append(f"pods {p} and {q} billed together for {end - start:.2f} s "
                                  f"(allowed {allowed:.2f} s)")
    return broken


def _excused(fake: FakeRunPod, start: float, end: float) -> float:
    """How much of [start, end] RunPod spent failing or stalling requests (those still unanswered included),
    each failure with the poll interval the provider then waits before it asks again."""
    with fake.cloud.lock:
        stalled = [(r.started, fake.clock()) for r in fake.in_flight.values()]
        answered: list[RecordedRequest] = list(fake.requests_log)
    spans = sorted([*stalled, *((r.started, r.at + POLL_S) for r in answered
                                if r.status == 0 or r.status >= 429 or r.at - r.started > SLOW_REQUEST_S)])
    total, covered_to = 0.0, start
    for a, b in spans:
        a, b = max(a, covered_to), min(b, end)
        if b > a:
            total += b - a
            covered_to = b
    return total
