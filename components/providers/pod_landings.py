"""The lost-create ledger of one pod create: which creates may still make a pod, and which did.

RunPod may answer a create with a 5xx or a timeout and still make the pod, even minutes later. Such a pod
bills outside the stack unless the create that lost it finds it: `Landings` records the creates RunPod
answered, those it did not, and every pod under our provisional name that appeared since, and `watch` looks
for late ones. What to do with a pod found (adopt it, end it) is the placement's call (`pod_placement`). A ledger
lives for one call only: the provider is pickled into state and keeps no per-call state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi

from components import tuning
from components.providers.pod_inputs import PodSpec
from components.runpod import PodInfo, RunPodClient, RunPodError
from components.waiting import Deadline, WaitTimedOut, pauses, wait_until

__all__ = ["Landings"]


@dataclass
class Landings:
    """What one `create` sent and saw: the creates RunPod answered with an error or a timeout (each may still
    make a pod, even minutes later) and every pod named like ours that was not there before."""

    already: frozenset[str]  # namesakes from before the first create: never ours
    unanswered_creates: int = 0
    answered_creates: int = 0
    last_unanswered_at: float = 0.0
    last_unanswered_error: RunPodError | None = None
    seen: set[str] = field(default_factory=set)
    lookup_error: RunPodError | None = None

    def unanswered(self, at: float, error: RunPodError) -> None:
        self.unanswered_creates += 1
        self.last_unanswered_at = at
        self.last_unanswered_error = error

    def answered(self, pod_id: str) -> None:
        self.answered_creates += 1
        self.seen.add(pod_id)

    def accounted(self) -> bool:
        """Every create that may have made a pod is matched by a pod seen: none can still land."""
        return len(self.seen) >= self.unanswered_creates + self.answered_creates

    def missing(self) -> int:
        """How many creates may still make a pod nobody has seen."""
        return max(0, self.unanswered_creates + self.answered_creates - len(self.seen))

    def watching(self, grace_s: float) -> bool:
        """A create RunPod never answered may still land now: unaccounted, and within `grace_s` of the last."""
        return (self.unanswered_creates > 0 and not self.accounted()
                and time.monotonic() < self.last_unanswered_at + grace_s)

    def look(self, client: RunPodClient, spec: PodSpec) -> list[PodInfo]:
        """Our pods not terminated, oldest first (one list call; its errors are the caller's)."""
        mine = [p for p in client.pods.list() if p.name == spec.creating_name and p.id not in self.already]
        self.seen.update(p.id for p in mine)
        return sorted((p for p in mine if p.status != "TERMINATED"), key=lambda p: p.created_at or "")

    def watch(self, client: RunPodClient, spec: PodSpec, grace_s: float, done: Callable[[list[PodInfo]], bool],
              on_seen: Callable[[PodInfo], None] | None = None) -> list[PodInfo]:
        """Look every poll interval until a look answers and `done(our live pods)` holds, at most until
        `grace_s` after the last unanswered create. Lookup errors are kept in `lookup_error`, not raised:
        it is None when the last look answered."""
        warned: list[bool] = []

        def read() -> list[PodInfo] | None:
            try:
                made = self.look(client, spec)
            except RunPodError as e:
                self.lookup_error = e
                if not warned:
                    pulumi.log.warn(f"{spec.describe()}: could not look for pods the failed create(s) may have made "
                                    f"({e}); looking again every {tuning.seconds(tuning.POLL_INTERVAL):g} s, "
                                    "creating no other pod meanwhile")
                    warned.append(True)
                return None
            self.lookup_error = None
            if on_seen is not None:
                for pod in made:
                    on_seen(pod)
            return made

        deadline = Deadline(grace_s, start=self.last_unanswered_at)
        interval = tuning.seconds(tuning.POLL_INTERVAL)
        try:
            made = wait_until(read, lambda made: made is not None and done(made), deadline=deadline,
                              pauses=pauses(interval, factor=1.0))
        except WaitTimedOut as timed_out:
            made = timed_out.last
        return made or []
