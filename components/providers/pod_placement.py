"""Placing a pod: each GPU type in order, and every create RunPod may answer late accounted for.

RunPod places one GPU type per create and never falls back, so the types are tried in order of preference.
A create answered with a 5xx or a timeout may still make a pod, now or minutes later: it is looked for by the
pod's deterministic name before anything else is sent, adopted when it is the first, ended when it is an
extra, and named in the error when it cannot be ruled out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pulumi

from components import tuning
from components.providers.pod_landings import Landings
from components.providers.pod_ops import PodCall
from components.providers.pod_rules import PodError, sweep_hint
from components.providers.pod_rules import named as named_input
from components.providers.pod_rules import setting as setting_of
from components.runpod import BadRequest, Forbidden, NoCapacity, PodInfo, RunPodError, ServerError, TransportError

__all__ = ["CREATE_ATTEMPTS", "Placement"]

CREATE_ATTEMPTS = 3  # per GPU type, when RunPod answers 5xx and no pod was made


@dataclass
class Placement:
    """One create's placement: the call (client and inputs) and its ledger of unanswered creates."""

    call: PodCall
    ledger: Landings

    @classmethod
    def start(cls, call: PodCall) -> Placement:
        """Pods named like ours before we create are never adopted (a replacement's predecessor has our name)."""
        name = call.spec.name
        already = frozenset(p.id for p in call.client.pods.list() if p.name == name)
        if already:
            pulumi.log.info(f"{len(already)} other pod(s) named {name!r} exist ({', '.join(sorted(already))});"
                            " if none is this stack's, `python -m components.pods list` shows what they cost")
        return cls(call, Landings(already=already))

    @property
    def grace_s(self) -> float:
        """How long after the last unanswered create its pod may still land: at least the create's timeout."""
        return max(tuning.seconds(tuning.LANDING_GRACE), self.call.client.create_read_timeout_s)

    def place(self) -> PodInfo:
        """Try each GPU type in order; the first that RunPod places wins."""
        spec = self.call.spec
        refusals: list[tuple[str, RunPodError]] = []
        for gpu in spec.gpu_type_ids:
            try:
                pod = self._create_one(gpu)
            except (NoCapacity, BadRequest, Forbidden) as e:  # RunPod's advice: move to the next candidate
                pulumi.log.info(f"{spec.describe()}: {gpu} refused ({e.detail or e}); trying the next GPU type")
                refusals.append((gpu, e))
                continue
            pulumi.log.info(f"{spec.describe()}: created {pod.id} on {gpu} in {pod.data_center_id or '?'} "
                            f"(host CUDA {pod.cuda_version or 'unknown'}, ${pod.cost_per_hr:.2f}/h)")
            return pod
        raise PodError(self._nowhere_message(refusals))

    def _create_one(self, gpu: str) -> PodInfo:
        """One GPU type. A 5xx or timeout may hide a pod RunPod made anyway (now or later): adopt it, never
        make a second blind; when every attempt failed, watch for late ones before giving up."""
        client, spec, ledger = self.call.client, self.call.spec, self.ledger
        lookups = client.without_retries()  # the watch polls: one answer per look
        grace = self.grace_s
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                pod = client.pods.create(spec.create_body(gpu))
            except (ServerError, TransportError) as e:
                ledger.unanswered(time.monotonic())
                time.sleep(tuning.seconds(tuning.POLL_INTERVAL) * attempt)  # a create in flight gets time to land
                # Until a look answers, another create could stack a second pod on the first.
                made = ledger.watch(lookups, spec, grace, done=lambda _: True)
                if made:
                    return self._adopt(made, e)
                if ledger.lookup_error is not None:
                    raise PodError(self._lost_creates(gpu, e)) from None
                if attempt < CREATE_ATTEMPTS:
                    continue
                pulumi.log.warn(f"{spec.describe()}: {ledger.unanswered_creates} create(s) on {gpu} got no clear "
                                f"answer ({e}); looking up to {grace:g} s for a pod RunPod made anyway, so none "
                                "bills unseen")
                made = ledger.watch(lookups, spec, grace, done=bool)
                if made:
                    return self._adopt(made, e)
                raise PodError(self._lost_creates(gpu, e)) from None
            ledger.answered(pod.id)
            return pod
        raise AssertionError("unreachable")

    def _lost_creates(self, gpu: str, error: RunPodError) -> str:
        """Why no pod came of the creates, without claiming more than the lookups showed."""
        spec, ledger = self.call.spec, self.ledger
        if ledger.lookup_error is None:
            outcome = (f"no pod named {spec.name!r} appeared within {self.grace_s:g} s of the last one. Should one "
                       f"appear later, it bills outside this stack: {sweep_hint(spec.name)}.")
        else:
            outcome = (f"whether RunPod made a pod anyway is unknown, because listing pods failed too "
                       f"({ledger.lookup_error}). A pod named {spec.name!r} may bill outside this stack: "
                       f"{sweep_hint(spec.name)}.")
        return (f"RunPod failed {ledger.unanswered_creates} create(s) of {spec.describe()} on {gpu} ({error}); "
                f"{outcome} Run `pulumi up` again later.")

    def _adopt(self, made: list[PodInfo], error: RunPodError) -> PodInfo:
        """The oldest pod a lost create made is ours; any other one is terminated."""
        for extra in made[1:]:
            pulumi.log.warn(f"{self.call.spec.describe()}: a lost create made pod {extra.id} as well; ending it")
            self.call.terminate(extra.id)
        pulumi.log.warn(f"{self.call.spec.describe()}: RunPod answered the create with an error ({error}) but made "
                        f"pod {made[0].id}; adopting it")
        return made[0]

    def end_duplicates(self, keep: str | None) -> str:
        """A create that failed or timed out may land after another attempt made our pod: keep at most `keep`,
        watching until every such create is accounted for or the grace window ends. Returns a sentence for
        an error message when some may still land."""
        spec, ledger = self.call.spec, self.ledger
        if ledger.unanswered_creates:
            if not ledger.accounted():
                pulumi.log.info(f"{spec.describe()}: waiting up to {self.grace_s:g} s after the last create RunPod "
                                "never answered, so a pod it makes late does not bill unseen")
            ledger.watch(self.call.client.without_retries(), spec, self.grace_s, done=lambda _: ledger.accounted(),
                         on_seen=lambda extra: self._end_extra(extra, keep))
        else:  # no create went unanswered: one look for a namesake made meanwhile
            try:
                for extra in ledger.look(self.call.client, spec):
                    self._end_extra(extra, keep)
            except RunPodError as e:
                pulumi.log.warn(f"{spec.describe()}: could not check for duplicate pods ({e})")
        if ledger.accounted():
            return ""
        missing = ledger.unanswered_creates + ledger.answered_creates - len(ledger.seen)
        hint = (f"{missing} create(s) RunPod never answered may still make a pod named {spec.name!r}, billing "
                f"outside this stack: {sweep_hint(spec.name)}.")
        pulumi.log.warn(f"{spec.describe()}: {hint}")
        return hint

    def _end_extra(self, extra: PodInfo, keep: str | None) -> None:
        if extra.id != keep and extra.status != "TERMINATED":
            pulumi.log.warn(f"{self.call.spec.describe()}: a late create made pod {extra.id} as well; ending it")
            self.call.terminate(extra.id)

    def terminate_after_failure(self, pod_id: str) -> str:
        """Terminate our pod, then end (or name) the pods unanswered creates may still make."""
        sentence = self.call.terminate(pod_id)
        if self.ledger.unanswered_creates:
            late = self.end_duplicates(keep=None)
            sentence = f"{sentence} {late}" if late else sentence
        return sentence

    def _nowhere_message(self, refusals: list[tuple[str, RunPodError]]) -> str:
        spec = self.call.spec
        reasons = "; ".join(f"{gpu}: {(e.detail or str(e)).rstrip('.')}" for gpu, e in refusals)
        head = (f"no GPU type in {named_input('gpu_type_ids')} could be placed for {spec.describe()} "
                f"({spec.gpu_count} GPU, CUDA ≥ {spec.min_cuda_version}, {spec.cloud} cloud): {reasons}.")
        if refusals and not any(isinstance(e, NoCapacity | Forbidden) for _, e in refusals):
            return (f"{head} Every type refused the request the same way, so the request itself is the likely "
                    f"problem: {refusals[-1][1].detail}")
        return f"{head} Try: {self._suggestions()}"

    def _suggestions(self) -> str:
        spec = self.call.spec
        other = "COMMUNITY" if spec.cloud == "SECURE" else "SECURE"
        tips = [f"set {setting_of('cloud')} to {other}", "retry later"]
        try:
            catalog = self.call.client.catalog.gpus(count=spec.gpu_count, cloud=spec.cloud,
                                                    min_cuda_version=spec.min_cuda_version)
        except RunPodError:
            return "; ".join([f"other GPU types in {setting_of('gpu_type_ids')}", *tips])
        free = sorted((g for g in catalog if g.get("availability", "NONE") != "NONE"
                       and g["id"] not in spec.gpu_type_ids),
                      key=lambda g: g.get("price", {}).get(spec.cloud.lower(), 0.0))
        if free:
            names = ", ".join(f"{g['id']} ({g.get('memory', '?')} GB, {g.get('availability')})" for g in free[:5])
            tips.insert(0, f"add to {setting_of('gpu_type_ids')} GPU types RunPod has free now at CUDA ≥ "
                           f"{spec.min_cuda_version}: {names}")
        else:
            tips.insert(0, f"other GPU types in {setting_of('gpu_type_ids')} (RunPod's catalog shows none free right "
                           "now at this CUDA floor)")
        return "; ".join(tips)
