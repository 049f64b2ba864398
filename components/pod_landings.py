"""The lost-create ledger of one `PodProvider.create`: which creates may still make a pod, and which did.

RunPod may answer a create with a 5xx or a timeout and still make the pod, even minutes later. Such a pod
bills outside the stack unless the create that lost it finds it: `Landings` records the creates RunPod
answered, those it did not, and every pod named like ours that appeared since, and `watch` looks for late
ones. What to do with a pod found (adopt it, end it) is the provider's call in `components/pod.py`.

Kept apart from the provider so its create flow reads as the calls it makes, with this bookkeeping behind one
object. A ledger lives for one call only: the provider is pickled into state and keeps no per-call state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi

from components.pod_rules import PodSpec
from components.runpod_api import PodInfo, RunPodClient, RunPodError


@dataclass
class Landings:
    """What one `create` sent and saw: the creates RunPod answered with an error or a timeout (each may still
    make a pod, even minutes later) and every pod named like ours that was not there before. Per call: the
    provider keeps no per-call state on itself."""

    already: frozenset[str]  # namesakes from before the first create: never ours
    unanswered_creates: int = 0
    answered_creates: int = 0
    last_unanswered_at: float = 0.0
    seen: set[str] = field(default_factory=set)
    lookup_error: RunPodError | None = None

    def unanswered(self, at: float) -> None:
        self.unanswered_creates += 1
        self.last_unanswered_at = at

    def answered(self, pod_id: str) -> None:
        self.answered_creates += 1
        self.seen.add(pod_id)

    def accounted(self) -> bool:
        """Every create that may have made a pod is matched by a pod seen: none can still land."""
        return len(self.seen) >= self.unanswered_creates + self.answered_creates

    def look(self, client: RunPodClient, spec: PodSpec) -> list[PodInfo]:
        """Our pods not terminated, oldest first (one list call; its errors are the caller's)."""
        mine = [p for p in client.list_pods() if p.name == spec.name and p.id not in self.already]
        self.seen.update(p.id for p in mine)
        return sorted((p for p in mine if p.status != "TERMINATED"), key=lambda p: p.created_at or "")

    def watch(self, client: RunPodClient, spec: PodSpec, grace_s: float, done: Callable[[list[PodInfo]], bool],
              poll_s: Callable[[], float], on_seen: Callable[[PodInfo], None] | None = None) -> list[PodInfo]:
        """Look every `poll_s()` seconds until a look answers and `done(our live pods)` holds, at most until
        `grace_s` after the last unanswered create. Lookup errors are kept in `lookup_error`, not raised:
        it is None when the last look answered. `poll_s` is the provider's poll-interval knob, read at each
        wait like its own polls (passed in: this module does not import the provider)."""
        deadline = self.last_unanswered_at + grace_s
        warned = False
        while True:
            made: list[PodInfo] = []
            try:
                made = self.look(client, spec)
                self.lookup_error = None
            except RunPodError as e:
                self.lookup_error = e
                if not warned:
                    pulumi.log.warn(f"{spec.describe()}: could not look for pods the failed create(s) may have made "
                                    f"({e}); looking again every {poll_s():g} s, creating no other pod "
                                    "meanwhile")
                    warned = True
            else:
                for pod in made:
                    if on_seen is not None:
                        on_seen(pod)
                if done(made):
                    return made
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return made
            time.sleep(min(poll_s(), remaining))
