"""What the pod provider does to one pod, for one call: wait for it, read why it failed, check its host,
stop, start, contain or terminate it. `PodCall` holds that call's client and checked inputs, so nothing per
call lives on the (pickled, shared) provider."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from components import tuning
from components.compat import cuda_at_least
from components.providers.pod_end import RETRIED, terminate_pod
from components.providers.pod_inputs import PodSpec
from components.providers.pod_rules import (
    FAILED_STATUSES,
    STOPPED_STATUSES,
    PodError,
    errored_message,
    explain,
    sweep_hint,
)
from components.providers.pod_rules import named as named_input
from components.providers.pod_rules import setting as setting_of
from components.runpod import (
    TRANSIENT,
    Conflict,
    NoCapacity,
    NotFound,
    PodInfo,
    RunPodClient,
    RunPodError,
)
from components.waiting import Deadline, WaitTimedOut, again_until, pauses, wait_until

__all__ = ["PodCall"]

PROGRESS_EVERY_POLLS = 6
LOG_TAIL = 200


@dataclass
class PodCall:
    """One provider call on a pod: the RunPod client and the checked inputs."""

    client: RunPodClient
    spec: PodSpec

    # ---- waiting ---------------------------------------------------------------------------------------

    def wait_running(self, pod: PodInfo, look_aside: Callable[[], bool] | None = None) -> PodInfo:
        """Poll with backoff until RUNNING; ERROR/EXITED/TERMINATED or the deadline raise with the cause.
        `look_aside` runs before each poll while it returns True (pods a lost create may still make, ended as
        soon as seen): meanwhile the polls keep the first interval instead of backing off."""
        first = tuning.seconds(tuning.POLL_INTERVAL)
        deadline = Deadline(self.spec.ready_timeout_s)
        latest = [pod]
        aside = [look_aside is not None]

        def read() -> PodInfo:
            if look_aside is not None and aside[0]:
                aside[0] = look_aside()
            latest.append(self.poll(latest[-1]))
            return latest[-1]

        backoff = pauses(first)
        gaps = (first if aside[0] else next(backoff) for _ in itertools.count())
        try:
            pod = wait_until(read, lambda p: p.status == "RUNNING", deadline=deadline, pauses=gaps,
                             failed=lambda p: p.status in FAILED_STATUSES, seen=self._progress(deadline),
                             first=lambda: pod)
        except WaitTimedOut as timed_out:
            stuck: PodInfo = timed_out.last
            raise PodError(self.failure(stuck, f"was still {stuck.status} after {self.spec.ready_timeout_s} s "
                                        f"({named_input('ready_timeout_s')}: raise it if the pod is only slow to "
                                        "start)", first)) from None
        if pod.status != "RUNNING":
            raise PodError(self.failure(pod, f"turned {pod.status} after {deadline.elapsed():.0f} s", first))
        pulumi.log.info(f"{self.spec.describe()} {pod.id}: RUNNING after {deadline.elapsed():.0f} s")
        return pod

    def _progress(self, deadline: Deadline) -> _Progress:
        return _Progress(self.spec, deadline)

    def poll(self, pod: PodInfo, doing: str = "starting") -> PodInfo:
        """One status read. A transient failure that outlasted the client's retries (5xx, no answer, a run of
        429s) keeps the last known state: the caller's deadline, not one read, decides when to give up."""
        try:
            return self.client.pods.get(pod.id)
        except NotFound:
            raise PodError(f"pod {pod.id} disappeared while {doing} (terminated outside this stack?)") from None
        except TRANSIENT as e:
            pulumi.log.warn(f"pod {pod.id}: status read failed ({e}); polling on")
            return pod

    # ---- why it failed ---------------------------------------------------------------------------------

    def failure(self, pod: PodInfo, what: str, poll_s: float) -> str:
        lines = self.system_log(pod.id, poll_s)
        cause = explain(lines, pod, self.spec.min_cuda_version)
        if lines and cause.endswith("log above"):
            pulumi.log.error(f"pod {pod.id} system log (last lines):\n" + "\n".join(lines[-15:]))
        where = f"{pod.gpu_type_id or '?'} in {pod.data_center_id or '?'}, host CUDA {pod.cuda_version or 'unknown'}"
        return f"pod {pod.id} ({pod.name}) on {where} {what}: {cause}."

    def system_log(self, pod_id: str, poll_s: float) -> list[str]:
        """The pod's system log, read with bounds (the stream stays open after its backfill)."""
        idle = min(2.0, max(0.2, poll_s))
        try:
            return [e.line for e in self.client.pods.logs(pod_id, source="system", tail=LOG_TAIL, idle_s=idle,
                                                          max_s=10 * idle)]
        except RunPodError as e:
            pulumi.log.warn(f"pod {pod_id}: could not read its system log ({e})")
            return []

    def verify_host(self, pod: PodInfo) -> None:
        spec = self.spec
        if pod.cuda_version is None:
            pulumi.log.warn(f"pod {pod.id}: RunPod did not report the host's CUDA version; it reached RUNNING, "
                            "so the image's CUDA requirement was met")
        elif not cuda_at_least(pod.cuda_version, spec.min_cuda_version):
            raise PodError(f"pod {pod.id} landed on a host with CUDA {pod.cuda_version}, below "
                           f"{named_input('min_cuda_version')} {spec.min_cuda_version}: RunPod placed it below the "
                           "floor the create asked for; retry with `pulumi up`.")
        if spec.max_cost_per_hour is not None and pod.cost_per_hr > spec.max_cost_per_hour:
            raise PodError(f"pod {pod.id} on {pod.gpu_type_id} costs ${pod.cost_per_hr:.2f}/h, above "
                           f"{named_input('max_cost_per_hour')} ${spec.max_cost_per_hour:.2f}: list cheaper GPU "
                           f"types first in {setting_of('gpu_type_ids')}, or raise "
                           f"{setting_of('max_cost_per_hour')}.")

    # ---- ending it -------------------------------------------------------------------------------------

    def terminate(self, pod_id: str) -> str:
        """A failed pod must not bill: terminate it until RunPod confirms (pod_end). Returns the sentence to
        add to the error."""
        ended = terminate_pod(self.client, pod_id)
        if ended.confirmed:
            pulumi.log.info(f"pod {pod_id}: terminated")
        else:
            pulumi.log.error(f"pod {pod_id}: {ended.sentence(self.spec.name)}")
        return ended.sentence(self.spec.name)

    def contain(self, pod_id: str) -> str:
        """After a failed update the pod stays in state (it may hold data): stop it rather than end it."""
        try:
            pod = self.client.pods.get(pod_id)
            if "stop" in pod.actions:
                self.client.pods.action(pod_id, "stop")
                return (f"Pod {pod_id} was asked to stop, so it stops billing GPU time (`python -m components.pods "
                        "list` shows its status); fix the cause and `pulumi up`.")
        except RunPodError as e:
            return f"Pod {pod_id} could not be stopped ({e}) and may bill: `pulumi destroy` or fix and `pulumi up`."
        return (f"Pod {pod_id} is {pod.status} and may bill: `pulumi up --replace <the pod's URN>` for a new pod, "
                "or `pulumi destroy`.")

    def take_name(self, pod: PodInfo) -> PodInfo:
        """The create succeeded: the pod leaves its provisional name for the stack's. A PATCH of the name alone
        changes a pod in place (no reset); it is sent again after a failure that proves nothing, until
        RUNPOD_STOP_TIMEOUT_S."""
        deadline = Deadline(tuning.seconds(tuning.STOP_TIMEOUT))
        try:
            return again_until(lambda: self.client.pods.update(pod.id, {"name": self.spec.name}), retried=RETRIED,
                               deadline=deadline, pause_s=tuning.seconds(tuning.POLL_INTERVAL),
                               on_retry=lambda e: pulumi.log.info(f"pod {pod.id}: renaming it failed ({e}); asking "
                                                                  "again"))
        except RETRIED as e:
            raise PodError(f"RunPod did not rename pod {pod.id} to {self.spec.name!r} (its name once created) "
                           f"within {deadline.limit_s:g} s ({e}); run `pulumi up` again.") from None

    # ---- stop / start ----------------------------------------------------------------------------------

    def stop(self, pod: PodInfo) -> PodInfo:
        """Stop (GPU released, disk kept) and return once RunPod reports the pod stopped. A pod in ERROR cannot
        be stopped (it bills), and a stop not done within RUNPOD_STOP_TIMEOUT_S fails: neither is recorded
        stopped."""
        limit = tuning.seconds(tuning.STOP_TIMEOUT)
        accepted: list[bool] = []

        def ask(current: PodInfo) -> None:
            if accepted or current.status in STOPPED_STATUSES or current.status == "ERROR":
                return
            try:
                self.client.pods.action(current.id, "stop")
                accepted.append(True)
            except RETRIED as e:  # the next read tells, and the stop is sent again
                pulumi.log.info(f"pod {current.id}: stop not accepted yet ({e}); asking again")

        latest = [pod]

        def read() -> PodInfo:
            latest.append(self.poll(latest[-1], "stopping"))
            return latest[-1]

        try:
            pod = wait_until(read, lambda p: p.status in STOPPED_STATUSES, failed=lambda p: p.status == "ERROR",
                             deadline=Deadline(limit), seen=ask, first=lambda: pod,
                             pauses=pauses(tuning.seconds(tuning.POLL_INTERVAL), factor=1.0))
        except WaitTimedOut as timed_out:
            still: PodInfo = timed_out.last
            raise PodError(
                f"RunPod did not stop pod {still.id} within {limit:g} s: it is {still.status} and bills "
                f"${still.cost_per_hr:.2f}/h. Run `pulumi up` again to retry the stop ({setting_of('running')} is "
                f"false), or `pulumi destroy` to end the pod; {sweep_hint(self.spec.name)}.") from None
        if pod.status == "ERROR":
            raise PodError(errored_message(pod))
        pulumi.log.info(f"{self.spec.describe()} {pod.id}: {pod.status} (stopped: the GPU is released, the disk kept)")
        return pod

    def start(self, pod: PodInfo) -> PodInfo:
        if pod.status == "ERROR":
            pulumi.log.warn(f"{self.spec.describe()} {pod.id}: in ERROR (it bills ${pod.cost_per_hr:.2f}/h); "
                            "starting it again")
        try:
            started = self.client.pods.action(pod.id, "start")
        except NoCapacity as e:
            raise PodError(
                f"RunPod refused to start pod {pod.id}: \"{e.detail}\" A stopped pod resumes on its own host, and "
                "that host has no free GPU now. Either retry later (`pulumi up`), keep it stopped meanwhile with "
                f"`pulumi config set {setting_of('running')} false`, or get a new host with "
                "`pulumi up --replace <the pod's URN>` (`pulumi stack --show-urns` lists it); a new pod starts "
                "with an empty container disk.") from None
        except Conflict:
            started = None  # already starting or running
        pulumi.log.info(f"{self.spec.describe()} {pod.id}: start requested")
        return started or self.client.pods.get(pod.id)


@dataclass
class _Progress:
    """Logs a waiting pod's status every few polls, and whenever it changes."""

    spec: PodSpec
    deadline: Deadline
    polls: int = 0
    last: str | None = None

    def __call__(self, pod: PodInfo) -> None:
        if pod.status == "RUNNING" or pod.status in FAILED_STATUSES:
            return
        if self.polls % PROGRESS_EVERY_POLLS == 0 or pod.status != self.last:
            pulumi.log.info(f"{self.spec.describe()} {pod.id}: {pod.status} for {self.deadline.elapsed():.0f} s "
                            f"(waiting up to {self.spec.ready_timeout_s} s for RUNNING)")
        self.last = pod.status
        self.polls += 1
