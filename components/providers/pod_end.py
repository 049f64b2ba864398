"""Ending a pod: DELETE until RunPod confirms it, and a sentence that claims no more than the last look showed;
and ending the pods creates that never finished left behind.

One failed DELETE proves nothing (`components.providers.deleting`): the pod is read back, and the DELETE is
sent again (5xx, 429, a timeout, a busy pod) until RunPod confirms (a 204, or a read that says 404 or
TERMINATED) or RUNPOD_STOP_TIMEOUT_S passes. Only then does a message say the pod still bills, and only when
the last read showed it.

A pod keeps its provisional name until its create succeeded (components.names). `pulumi up` and `destroy` hold
the stack's lock, so a pod under that name seen before a create or in a delete was left by a create that never
finished (a `pulumi up` ended mid-create, whose host could not clean up): it is never the stack's, and it is
ended. A refresh is different: Pulumi reads in a refresh's preview too, and `pulumi preview --refresh` takes no
lock, so a `pulumi up` may be creating that very pod. A read therefore ends only a provisional pod older than
any create can take (`create_window_s`), and names a younger one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components import tuning
from components.names import provisional_name
from components.providers.base import landing_grace_s
from components.providers.deleting import RETRIED, Deletion, delete_until_gone
from components.providers.pod_rules import sweep_hint
from components.runpod import TRANSIENT, PodInfo, RunPodClient, RunPodError
from components.waiting import Deadline, again_until

__all__ = ["RETRIED", "Termination", "create_window_s", "end_orphans", "end_orphans_of", "terminate_pod"]


@dataclass(frozen=True)
class Termination:
    """How ending one pod went (`components.providers.deleting`): `deleted`, `gone`, `there` (the last read still
    showed it) or `unknown`, worded for a pod."""

    pod_id: str
    deletion: Deletion[PodInfo]

    @property
    def outcome(self) -> str:
        return self.deletion.outcome

    @property
    def confirmed(self) -> bool:
        return self.deletion.confirmed

    def sentence(self, name: str) -> str:
        """For an error message: what became of the pod, and what to do when it may still bill."""
        pod, last, error, look_error = self.pod_id, self.deletion.last, self.deletion.error, self.deletion.look_error
        if self.outcome == "deleted":
            return f"Pod {pod} was terminated, so it does not bill."
        if self.outcome == "gone":
            return f"Pod {pod} is already gone, so it does not bill."
        if last is not None:  # a stopped (EXITED) pod costs no GPU time but still bills for its disk
            rate = f" (${last.cost_per_hr:.2f}/h)" if last.cost_per_hr else ""
            return (f"Terminating pod {pod} failed ({error}): RunPod still shows it {last.status}{rate}, "
                    f"and it bills until you end it ({sweep_hint(name)}).")
        also = "" if look_error is error else f" and reading it back failed too ({look_error})"
        return (f"Terminating pod {pod} failed ({error}){also}: it may still bill; end it if it is still there "
                f"({sweep_hint(name)}).")


def terminate_pod(client: RunPodClient, pod_id: str) -> Termination:
    """DELETE the pod until RunPod confirms it is gone (a read that says TERMINATED counts)."""
    return Termination(pod_id, delete_until_gone(lambda: client.pods.terminate(pod_id),
                                                 lambda: client.pods.get(pod_id), retried=RETRIED,
                                                 gone=lambda pod: pod.status == "TERMINATED"))


def create_window_s(client: RunPodClient, ready_timeout_s: float) -> float:
    """The longest a create keeps its pod under the provisional name once RunPod made it: the create request
    itself, the wait for RUNNING, a stop and the rename (each up to RUNPOD_STOP_TIMEOUT_S), and the landing grace
    of a late pod."""
    return (client.create_read_timeout_s + ready_timeout_s + 2 * tuning.seconds(tuning.STOP_TIMEOUT)
            + landing_grace_s(client))


def end_orphans(client: RunPodClient, name: str, pods: Sequence[PodInfo],
                older_than_s: float | None = None) -> frozenset[str]:
    """End every live pod of `pods` that carries the provisional name of `name` (and, with `older_than_s`, was
    made longer ago than that: a younger one may be a running create's, and is only named); returns the ids
    ended. What could not be ended is logged, with what to do."""
    left = [p for p in pods if p.name == provisional_name(name) and p.status != "TERMINATED"]
    if older_than_s is not None:
        young = [p for p in left if (p.age_s() or 0.0) <= older_than_s]
        for pod in young:
            pulumi.log.warn(f"pod {pod.id} ({pod.name}: {pod.status}) is under the name a create uses until it "
                            f"succeeds, and younger than a create can take ({older_than_s:.0f} s): a `pulumi up` "
                            "may be creating it now, so it is left alone; if none is, the next `pulumi up` ends it, "
                            f"or {sweep_hint(name)}")
        left = [p for p in left if p not in young]
    for pod in left:
        pulumi.log.warn(f"pod {pod.id} ({pod.name}: {pod.status}, ${pod.cost_per_hr:.2f}/h) was left by a create "
                        "that never finished (a `pulumi up` ended mid-create); it is not the stack's: ending it")
        ended = terminate_pod(client, pod.id)
        if not ended.confirmed:
            pulumi.log.error(f"pod {pod.id}: {ended.sentence(name)}")
    return frozenset(p.id for p in left)


def end_orphans_of(client: RunPodClient, name: str, older_than_s: float | None = None) -> None:
    """`end_orphans` after a listing of its own, for a refresh or a delete. The listing is asked again through an
    outage, until RUNPOD_STOP_TIMEOUT_S; should it still fail, the refresh or delete goes on, and says so."""
    try:
        pods = again_until(client.pods.list, retried=TRANSIENT, deadline=Deadline(tuning.seconds(tuning.STOP_TIMEOUT)),
                           pause_s=tuning.seconds(tuning.POLL_INTERVAL))
    except RunPodError as e:
        pulumi.log.warn(f"could not look for pods an unfinished create of {name!r} left ({e}); the next "
                        f"`pulumi up` or `pulumi refresh` looks again, or {sweep_hint(name)}")
        return
    end_orphans(client, name, pods, older_than_s)
