"""What the endpoint provider does to one endpoint, for one call: create it (a create RunPod answered with an
error or not at all is looked up by the endpoint's deterministic name, never sent blind again), check that
RunPod made what was asked, and delete it until RunPod confirms. `EndpointCall` holds the call's client and
checked inputs, so nothing per call lives on the (pickled, shared) provider.

An endpoint with `workers.min` above 0 bills from its creation, so any failure after RunPod made it deletes it
before the error is raised, and the error says what became of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pulumi

from components import tuning
from components.names import setting
from components.providers.base import landing_grace_s
from components.providers.deleting import RETRIED, delete_until_gone
from components.providers.endpoint_inputs import EndpointSpec
from components.providers.endpoint_rules import EndpointError, mismatch
from components.runpod import (
    BadRequest,
    EndpointInfo,
    Forbidden,
    InsufficientBalance,
    InvalidRequest,
    RunPodClient,
    RunPodError,
    ServerError,
    TransportError,
)
from components.waiting import Deadline, WaitTimedOut, pauses, wait_until

__all__ = ["CREATE_ATTEMPTS", "EndpointCall"]

CREATE_ATTEMPTS = 3  # when RunPod answers 5xx (or nothing) and no endpoint was made
REFUSED_ADVICE = (
    f"Check {setting('workersMax')} (with {setting('workersMin')}) against the account's worker quota (5 by "
    f"default; RunPod console → Serverless), {setting('gpuTypes')} (types RunPod Serverless offers), "
    f"{setting('containerDiskGb')}, and the account's balance; then `pulumi up` again.")


@dataclass
class EndpointCall:
    client: RunPodClient
    spec: EndpointSpec

    # ---- creating --------------------------------------------------------------------------------------------

    def create(self) -> EndpointInfo:
        """POST until RunPod answers; a lost answer is looked up by name first. The endpoint is checked, and
        deleted again when RunPod did not make what was asked."""
        already = frozenset(e.id for e in self._namesakes())  # a replacement's predecessor has our name
        made = self._post(already)
        if (problem := mismatch(self.spec, made)) is not None:
            raise EndpointError(f"{self.spec.describe()} {made.id}: {problem}. {self.delete_after_failure(made.id)}")
        pulumi.log.info(f"{self.spec.describe()}: created {made.id} ({made.base_url}), workers {made.workers_min}–"
                        f"{made.workers_max}, pools {', '.join(made.pools)}, CUDA ≥ {made.min_cuda_version}")
        return made

    def _post(self, already: frozenset[str]) -> EndpointInfo:
        lost: list[RunPodError] = []
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self.client.endpoints.create(self.spec.create_body())
            except (ServerError, TransportError) as e:
                lost.append(e)
                pulumi.log.warn(f"{self.spec.describe()}: RunPod answered the create with an error ({e}); looking "
                                "for an endpoint it made anyway before trying again")
            except (BadRequest, InvalidRequest, InsufficientBalance, Forbidden) as e:  # RunPod decided: none made
                raise EndpointError(f"RunPod refused the create of {self.spec.describe()} ({e}); nothing was "
                                    f"created. {REFUSED_ADVICE}") from None
            time.sleep(tuning.seconds(tuning.POLL_INTERVAL) * attempt)
            found = self._landed(already, once=attempt < CREATE_ATTEMPTS)
            if found is not None:
                return found
        raise EndpointError(f"RunPod failed {len(lost)} create(s) of {self.spec.describe()} ({lost[-1]}), and no "
                            f"endpoint named {self.spec.name!r} appeared within {self._grace_s():g} s. Should one "
                            "appear later, RunPod's console (Serverless) lists it: delete it there. Run `pulumi up` "
                            "again later.")

    def _landed(self, already: frozenset[str], *, once: bool) -> EndpointInfo | None:
        """The endpoint an unanswered create made: one answered look (`once`), or looks until the grace window
        after the create ends. The oldest is adopted; any other is deleted."""
        def look() -> list[EndpointInfo] | None:
            try:
                return sorted((e for e in self._namesakes() if e.id not in already), key=lambda e: e.created_at or "")
            except RunPodError as e:
                pulumi.log.warn(f"{self.spec.describe()}: could not list endpoints ({e}); looking again")
                return None

        deadline = Deadline(self._grace_s())
        try:
            found = wait_until(look, lambda made: made is not None and (once or bool(made)), deadline=deadline,
                               pauses=pauses(tuning.seconds(tuning.POLL_INTERVAL), factor=1.0))
        except WaitTimedOut as timed_out:
            if timed_out.last is None:  # never knowing, another create could make a second endpoint
                raise EndpointError(
                    f"RunPod answered a create of {self.spec.describe()} with an error, and listing endpoints failed "
                    f"for {self._grace_s():g} s after it, so whether it made one is unknown; no other create was "
                    f"sent. RunPod's console (Serverless) shows any endpoint named {self.spec.name!r}: delete it "
                    "there if this stack's state does not hold it, and run `pulumi up` again.") from None
            return None
        if not found:
            return None
        for extra in found[1:]:
            pulumi.log.warn(f"{self.spec.describe()}: a lost create made endpoint {extra.id} as well; deleting it")
            self.delete_after_failure(extra.id)
        pulumi.log.warn(f"{self.spec.describe()}: RunPod made endpoint {found[0].id} although it answered the create "
                        "with an error; adopting it")
        return found[0]

    def _namesakes(self) -> list[EndpointInfo]:
        return [e for e in self.client.endpoints.list() if e.name == self.spec.name]

    def _grace_s(self) -> float:
        return landing_grace_s(self.client)

    # ---- deleting --------------------------------------------------------------------------------------------

    def delete(self, endpoint_id: str) -> str:
        """DELETE until RunPod confirms (a 204, or a read that says 404), for at most RUNPOD_STOP_TIMEOUT_S: one
        failed DELETE proves nothing. Returns 'deleted' or 'gone'; EndpointError when it may still exist."""
        done = delete_until_gone(lambda: self.client.endpoints.delete(endpoint_id),
                                 lambda: self.client.endpoints.get(endpoint_id), retried=RETRIED)
        if done.confirmed:
            return done.outcome
        also = f"; reading it back failed too ({done.look_error})" if done.look_error not in (None, done.error) else ""
        raise EndpointError(f"deleting endpoint {endpoint_id} failed ({done.error}{also}): it may still exist, and its "
                            "running workers bill until it is deleted (RunPod's console, Serverless)")

    def delete_after_failure(self, endpoint_id: str) -> str:
        """For an error message: delete the endpoint a failed create made, and say what became of it."""
        try:
            self.delete(endpoint_id)
        except EndpointError as e:
            pulumi.log.error(str(e))
            return f"{e}."
        pulumi.log.info(f"endpoint {endpoint_id}: deleted")
        return f"Endpoint {endpoint_id} was deleted, so nothing bills."
