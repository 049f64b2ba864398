"""Placing a pod: each GPU type in order, and every create RunPod may answer late accounted for.

RunPod places one GPU type per create and never falls back, so the types are tried in order of preference.
A create answered with a 5xx or a timeout may still make a pod, now or minutes later. Whatever ends a
placement (a pod placed, no GPU type placed, any error), such creates are accounted for before `create`
leaves: the first pod they make is adopted when nothing else was placed, every other one is ended as soon as
a look sees it (also while the kept pod starts), and what cannot be ruled out is named in the error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from components import tuning
from components.names import setting
from components.placement import table_fits
from components.providers.base import landing_grace_s
from components.providers.pod_end import end_orphans
from components.providers.pod_inputs import PodSpec
from components.providers.pod_landings import Landings
from components.providers.pod_ops import PodCall
from components.providers.pod_rules import PodError, sweep_hint
from components.providers.pod_rules import named as named_input
from components.providers.pod_rules import setting as setting_of
from components.runpod import (
    BadRequest,
    Forbidden,
    NoCapacity,
    PodInfo,
    RunPodClient,
    RunPodError,
    ServerError,
    TransportError,
)

__all__ = ["CREATE_ATTEMPTS", "Placement"]

CREATE_ATTEMPTS = 3  # per GPU type, when RunPod answers 5xx and no pod was made


@dataclass
class Placement:
    """One create's placement: the call (client and inputs) and its ledger of unanswered creates."""

    call: PodCall
    ledger: Landings

    @classmethod
    def start(cls, call: PodCall, plan: Callable[[PodSpec], PodSpec] = lambda spec: spec) -> Placement:
        """Pods named like ours before we create are never adopted nor touched (a replacement's predecessor has
        our name); pods under our provisional name were left by creates that never finished, and are ended, even
        when `plan` (the order to try GPU types in, from the catalog) then refuses to create anything."""
        name, pods = call.spec.name, call.client.pods.list()
        already = frozenset(p.id for p in pods if p.name == name)
        if already:
            pulumi.log.info(f"{len(already)} other pod(s) named {name!r} exist ({', '.join(sorted(already))});"
                            " if none is this stack's, `python -m components.pods list` shows what they cost")
        ended = end_orphans(call.client, name, pods)
        return cls(PodCall(call.client, plan(call.spec)), Landings(already=already | ended))

    @property
    def grace_s(self) -> float:
        """How long after the last unanswered create its pod may still land: at least the create's timeout."""
        return landing_grace_s(self.call.client)

    @property
    def lookups(self) -> RunPodClient:
        return self.call.client.without_retries()  # the watches poll: one answer per look

    # ---- placing -------------------------------------------------------------------------------------------

    def place(self) -> PodInfo:
        """The first GPU type RunPod places wins. However placing fails, every create RunPod may still answer
        with a pod is accounted for (ended, or named in the error) before this raises."""
        try:
            return self._place()
        except PodError as e:
            raise PodError(_join(str(e), self.settle(keep=None))) from None
        except Exception as e:
            if not self.ledger.unanswered_creates:
                raise
            raise PodError(_join(f"{self.call.spec.describe()}: {e}.", self.settle(keep=None))) from None

    def _place(self) -> PodInfo:
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
        # A create answered with an error may still land (its GPU held meanwhile, so later types had none).
        late = self._late_landing() if self.ledger.unanswered_creates else None
        if late is not None:
            return late
        raise PodError(nowhere_message(self.call, refusals))

    def _create_one(self, gpu: str) -> PodInfo:
        """One GPU type. A 5xx or timeout may hide a pod RunPod made anyway (now or later): adopt it, never
        make a second blind; when every attempt failed, watch for late ones before giving up."""
        client, spec, ledger = self.call.client, self.call.spec, self.ledger
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                pod = client.pods.create(spec.create_body(gpu))
            except (ServerError, TransportError) as e:
                ledger.unanswered(time.monotonic(), e)
                time.sleep(tuning.seconds(tuning.POLL_INTERVAL) * attempt)  # a create in flight gets time to land
                # Until a look answers, another create could stack a second pod on the first.
                made = ledger.watch(self.lookups, spec, self.grace_s, done=lambda _: True)
                if made:
                    return self._adopt(made)
                if ledger.lookup_error is None and attempt < CREATE_ATTEMPTS:
                    continue
                late = self._late_landing() if ledger.lookup_error is None else None
                if late is not None:
                    return late
                raise PodError(f"RunPod failed {ledger.unanswered_creates} create(s) of {spec.describe()} on {gpu} "
                               f"({e}); run `pulumi up` again later.") from None
            ledger.answered(pod.id)
            return pod
        raise AssertionError("unreachable")

    def _late_landing(self) -> PodInfo | None:
        """Wait, up to the grace window, for the first pod the unanswered creates make, and adopt it."""
        spec, ledger = self.call.spec, self.ledger
        pulumi.log.warn(f"{spec.describe()}: {ledger.unanswered_creates} create(s) got no clear answer "
                        f"({ledger.last_unanswered_error}); looking up to {self.grace_s:g} s for a pod RunPod made "
                        "anyway, so none bills unseen")
        made = ledger.watch(self.lookups, spec, self.grace_s, done=bool)
        return self._adopt(made) if made else None

    def _adopt(self, made: list[PodInfo]) -> PodInfo:
        """The oldest pod a lost create made is ours; any other one is terminated."""
        for extra in made[1:]:
            pulumi.log.warn(f"{self.call.spec.describe()}: a lost create made pod {extra.id} as well; ending it")
            self.call.terminate(extra.id)
        pulumi.log.warn(f"{self.call.spec.describe()}: RunPod answered the create with an error "
                        f"({self.ledger.last_unanswered_error}) but made pod {made[0].id}; adopting it")
        return made[0]

    # ---- the pods unanswered creates make later --------------------------------------------------------------

    def look_late(self, keep: str) -> bool:
        """One look, while `keep` starts, for pods unanswered creates made since; each is ended at once.
        Returns whether more may still land (the caller then keeps looking every poll interval)."""
        ledger = self.ledger
        if not ledger.watching(self.grace_s):
            return False
        try:
            made = ledger.look(self.lookups, self.call.spec)
        except RunPodError:
            return True  # the next poll looks again
        for extra in made:
            self._end_extra(extra, keep)
        return ledger.watching(self.grace_s)

    def settle(self, keep: str | None) -> str:
        """Keep at most `keep`: watch until every create RunPod never answered is accounted for or the grace
        window ends, ending every other pod seen. Returns a sentence for an error message when some create may
        still make a pod ("" when none can)."""
        spec, ledger = self.call.spec, self.ledger
        if ledger.unanswered_creates:
            if ledger.watching(self.grace_s):
                pulumi.log.info(f"{spec.describe()}: waiting up to {self.grace_s:g} s after the last create RunPod "
                                "never answered, so a pod it makes late does not bill unseen")
            ledger.watch(self.lookups, spec, self.grace_s, done=lambda _: ledger.accounted(),
                         on_seen=lambda extra: self._end_extra(extra, keep))
        elif ledger.answered_creates:  # no create went unanswered: one look for a namesake made meanwhile
            try:
                for extra in ledger.look(self.call.client, spec):
                    self._end_extra(extra, keep)
            except RunPodError as e:
                pulumi.log.warn(f"{spec.describe()}: could not check for duplicate pods ({e})")
        if ledger.accounted():
            return ""
        hint = self._may_still_land()
        pulumi.log.warn(f"{spec.describe()}: {hint}")
        return hint

    def _may_still_land(self) -> str:
        spec, ledger = self.call.spec, self.ledger
        head = f"{ledger.missing()} create(s) RunPod never answered may still make a pod"
        if ledger.lookup_error is not None:
            return (f"{head}; whether RunPod made a pod anyway is unknown, because listing pods failed too "
                    f"({ledger.lookup_error}). A pod named {spec.name!r} may bill outside this stack (as "
                    f"{spec.creating_name!r}, its name until its create succeeds): {sweep_hint(spec.name)}.")
        other = "other " if ledger.seen else ""
        return (f"{head}: no {other}pod named {spec.name!r} appeared within {self.grace_s:g} s of the last one (a "
                f"pod is named {spec.creating_name!r} until its create succeeds). Should one appear later, it bills "
                f"outside this stack until the next `pulumi up` ends it: {sweep_hint(spec.name)}.")

    def _end_extra(self, extra: PodInfo, keep: str | None) -> None:
        if extra.id != keep and extra.status != "TERMINATED":
            pulumi.log.warn(f"{self.call.spec.describe()}: a late create made pod {extra.id} as well; ending it")
            self.call.terminate(extra.id)

    def terminate_after_failure(self, pod_id: str) -> str:
        """Terminate our pod, then end (or name) the pods unanswered creates may still make."""
        sentence = self.call.terminate(pod_id)
        return _join(sentence, self.settle(keep=None)) if self.ledger.unanswered_creates else sentence


def _join(*sentences: str) -> str:
    return " ".join(s for s in sentences if s)


def nowhere_message(call: PodCall, refusals: list[tuple[str, RunPodError]]) -> str:
    """No GPU type was placed: each type with RunPod's reason, and what to try."""
    spec = call.spec
    reasons = "; ".join(f"{gpu}: {(e.detail or str(e)).rstrip('.')}" for gpu, e in refusals)
    head = (f"no GPU type in {named_input('gpu_type_ids')} could be placed for {spec.describe()} "
            f"({spec.gpu_count} GPU, CUDA ≥ {spec.min_cuda_version}, {spec.cloud} cloud): {reasons}.")
    if refusals and not any(isinstance(e, NoCapacity | Forbidden) for _, e in refusals):
        return (f"{head} Every type refused the request the same way, so the request itself is the likely "
                f"problem: {refusals[-1][1].detail}")
    return f"{head} Try: {_suggestions(call)}"


def _suggestions(call: PodCall) -> str:
    spec = call.spec
    pinned = set(spec.data_center_ids or ())
    if spec.network_volume_id:  # a volume needs Secure Cloud and keeps the pod in its data center
        tips = [f"retry later, or move the model cache (a new {setting('modelCacheDataCenter')}, or "
                "`pulumi up --replace <the volume's URN>`) where the GPU types are free"]
    else:
        tips = [f"set {setting_of('cloud')} to {'COMMUNITY' if spec.cloud == 'SECURE' else 'SECURE'}", "retry later"]
    try:
        offers = call.client.catalog.offers(count=spec.gpu_count, cloud=spec.cloud,
                                            min_cuda_version=spec.min_cuda_version)
    except RunPodError:
        return "; ".join([f"other GPU types in {setting_of('gpu_type_ids')}", *tips])
    fits = table_fits(spec.auto_gpu_type_ids) if spec.auto_gpu_type_ids else (lambda _gpu: None)
    free = sorted((o for o in offers if o.id not in spec.gpu_type_ids and o.offered_in(spec.cloud)
                   and fits(o.id) is None and o.available_now()
                   and (not pinned or pinned & set(o.free_data_centers()))), key=lambda o: o.pod_price(spec.cloud))
    where = f" in {', '.join(sorted(pinned))}" if pinned else ""
    if free:
        names = ", ".join(f"{o.id} ({o.memory_gb} GB, {o.availability})" for o in free[:5])
        check = "" if spec.auto_gpu_type_ids else " (check each fits: `python -m components.compat --gpu ID`)"
        tips.insert(0, f"add to {setting_of('gpu_type_ids')} GPU types RunPod has free now{where} at CUDA ≥ "
                       f"{spec.min_cuda_version}: {names}{check}")
    else:
        tips.insert(0, f"other GPU types in {setting_of('gpu_type_ids')} (RunPod's catalog shows none free right "
                       f"now{where} at this CUDA floor)")
    return "; ".join(tips)
