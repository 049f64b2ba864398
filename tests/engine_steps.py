"""One engine run over a stack's state: the steps for each registration, then the deletes; or a refresh; or a
destroy. It follows pkg/resource/deploy/step_generator.go (which steps), step.go (what each step does to state)
and step_executor.go (a failed step cancels the run), with the provider calls of provider_plugin.go.

For a registration of a dynamic resource:

- Check runs with the old inputs, or with none for a new resource or one named by `--replace`; failures are
  reported one per property, then the run stops.
- For a resource in state, Diff runs (with unknowns during a preview). DIFF_UNKNOWN compares old and new inputs.
  `--replace` skips Diff and blames `id`. A replacement runs Check again without old inputs.
- Create-before-delete (the default): the replacement is created, the old resource stays in state marked for
  deletion, dependents are updated, and the old one is deleted only after every registration succeeded. With
  `deleteBeforeReplace` (the option, else the provider's answer) the old one is deleted first.
- An unchanged resource keeps its outputs and stores the new inputs.
- During a preview Create and Update are not called (the dynamic host does not claim preview support): the
  outputs are the checked inputs, so provider-only outputs are unknown. Nothing is deleted and state is kept.
- A failed step leaves the state as it was for that resource and cancels the run: later registrations are not
  processed, and no delete runs.
- A resource last registered with `retainOnDelete` is dropped from state by its delete step (destroy, removal
  from the program, replacement) without a call to its provider.

Other custom resources (the image build's Command, RandomPassword) get their outputs from per-type hooks, as
their plugins would; unchanged inputs make them "same". Steps run one at a time; the engine runs independent
steps in parallel, which nothing here depends on.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime.proto import provider_pb2

from tests.engine_program import Registration
from tests.engine_state import Record, StackState, Step, delete_order
from tests.engine_values import annotate_secrets, engine_form, mark_secret_outputs, reveal
from tests.provider_host import Host

DYNAMIC_PREFIX = "pulumi-python:dynamic"
Hook = Callable[[Registration], dict[str, Any]]
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]


class CheckFailed(Exception):
    """Check returned failures: one diagnostic per property, worded as the engine prints them."""

    def __init__(self, urn: str, typ: str, name: str, failures: list[tuple[str, str]],
                 inputs: Mapping[str, Any]) -> None:
        self.diagnostics = [
            f"{typ} resource '{name}': property {prop} value {reveal(inputs.get(prop))!r} has a problem: {reason}"
            if prop else f"{typ} resource '{name}' has a problem: {reason}" for prop, reason in failures]
        super().__init__("\n".join([*self.diagnostics, f"resource {urn} is invalid"]))


class Canceled(Exception):
    """A step failed earlier in this run: the engine processes no further registrations."""


@dataclass(frozen=True)
class Diff:
    changes: bool
    replaces: tuple[str, ...] = ()
    delete_before_replace: bool = False


@dataclass
class Deployment:
    """The steps of one `preview`, `up`, `refresh` or `destroy` of one stack."""

    state: StackState
    host: Callable[[], Host]  # the stack's provider host for this engine run (waits until it is up)
    preview: bool = False
    replace: frozenset[str] = frozenset()  # URNs given to `--replace`
    hooks: Mapping[str, Hook] = field(default_factory=dict)
    rewrite: Rewrite | None = None
    steps: list[Step] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    failure: BaseException | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ---- registrations ----------------------------------------------------------------------------------

    def register(self, reg: Registration) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            if self.failure is not None:
                raise Canceled(f"{reg.urn}: not processed, the update failed earlier: {self.failure}")
            self.seen.add(reg.urn)
            try:
                return self._register(reg)
            except BaseException as e:
                self.failure = e
                raise

    def _register(self, reg: Registration) -> tuple[str | None, dict[str, Any]]:
        if not reg.custom:
            return "", {}  # a component: no provider, nothing to diff
        inputs = self.rewrite(reg.typ, reg.inputs) if self.rewrite else reg.inputs
        old = self.state.live.get((reg.typ, reg.name))
        if reg.typ.startswith(DYNAMIC_PREFIX):
            return self._dynamic(reg, inputs, old)
        return self._plugin(reg, inputs, old)

    def _dynamic(self, reg: Registration, inputs: dict[str, Any],
                 old: Record | None) -> tuple[str | None, dict[str, Any]]:
        targeted = reg.urn in self.replace
        checked = self._check(reg, inputs, None if old is None or targeted else old.inputs)
        if old is None:
            return self._create(reg, checked, "create")
        diff = Diff(True, ("id",)) if targeted else self._diff(reg, old, checked)
        if (diff.changes and diff.replaces) or old.pending_replacement:
            if not targeted:  # the engine recomputes defaults for the new resource
                checked = self._check(reg, inputs, None)
            dbr = diff.delete_before_replace if reg.delete_before_replace is None else reg.delete_before_replace
            return self._replace(reg, old, checked, dbr)
        if diff.changes:
            return self._update(reg, old, checked)
        return self._same(reg, old, checked)

    def _check(self, reg: Registration, news: dict[str, Any],
               olds: dict[str, Any] | None) -> dict[str, Any]:
        checked, failures = self.host().check(reveal(news), olds=reveal(olds or {}), urn=reg.urn)
        if failures:
            self._step("check", reg, failed=True)
            raise CheckFailed(reg.urn, reg.typ, reg.name, failures, news)
        return annotate_secrets(engine_form(checked), news)

    def _diff(self, reg: Registration, old: Record, checked: dict[str, Any]) -> Diff:
        resp = self.host().diff(old.id, reveal(old.outs), reveal(checked), old_inputs=reveal(old.inputs),
                                urn=reg.urn)
        if resp.changes == provider_pb2.DiffResponse.DIFF_UNKNOWN:
            changes = reveal(old.inputs) != reveal(checked)
        else:
            changes = resp.changes == provider_pb2.DiffResponse.DIFF_SOME
        return Diff(changes, tuple(resp.replaces), resp.deleteBeforeReplace)

    def _create(self, reg: Registration, checked: dict[str, Any], op: str) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            return self._planned(reg, op, None, checked)
        try:
            id_, outs = self.host().create(reveal(checked), urn=reg.urn)
        except Exception:
            self._step(op, reg, failed=True)
            raise
        return self._record(reg, id_, checked, annotate_secrets(engine_form(outs), checked), op)

    def _update(self, reg: Registration, old: Record, checked: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            return self._planned(reg, "update", old.id, checked)
        try:
            outs = self.host().update(old.id, reveal(old.outs), reveal(checked), old_inputs=reveal(old.inputs),
                                      urn=reg.urn)
        except Exception:
            self._step("update", reg, failed=True)
            raise
        return self._record(reg, old.id, checked, annotate_secrets(engine_form(outs), checked), "update")

    def _replace(self, reg: Registration, old: Record, checked: dict[str, Any],
                 delete_first: bool) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            return self._planned(reg, "replace", None, checked)
        if delete_first and not old.pending_replacement:
            self._delete(old, "delete-replaced")
            old.pending_replacement = True  # still in state until its replacement exists
        id_, outs = self._create(reg, checked, "replace")
        if not delete_first:
            self.state.condemn(old)  # deleted once the whole update succeeded
        return id_, outs

    def _same(self, reg: Registration, old: Record, checked: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            self._step("diff", reg, plan="same")
            return old.id, mark_secret_outputs(old.outs, checked, reg.additional_secret_outputs)
        return self._record(reg, old.id, checked, old.outs, "same")

    def _plugin(self, reg: Registration, inputs: dict[str, Any],
                old: Record | None) -> tuple[str | None, dict[str, Any]]:
        """A plugin resource: same when its inputs did not change, else the hook's outputs as its plugin's."""
        targeted = reg.urn in self.replace
        if old is not None and not targeted and reveal(old.inputs) == reveal(inputs):
            return self._same(reg, old, inputs)
        op = "create" if old is None else "replace" if targeted else "update"
        if self.preview:
            return self._planned(reg, op, None if op != "update" or old is None else old.id, inputs)
        hook = self.hooks.get(reg.typ)
        outs = engine_form({**inputs, **(hook(reg) if hook else {})})
        id_ = old.id if old is not None and op == "update" else f"{reg.name}-{secrets.token_hex(4)}"
        if old is not None and op == "replace":
            self.state.condemn(old)
        return self._record(reg, id_, inputs, outs, op)

    def _planned(self, reg: Registration, plan: str, id_: str | None,
                 checked: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """Preview: the provider is not asked to act; the outputs are the checked inputs."""
        diffed = plan != "create" and reg.urn not in self.replace
        self._step("diff" if diffed else "check", reg, plan=plan)
        return id_, mark_secret_outputs(checked, checked, reg.additional_secret_outputs)

    def _record(self, reg: Registration, id_: str, inputs: dict[str, Any], outs: dict[str, Any],
                op: str) -> tuple[str, dict[str, Any]]:
        outs = mark_secret_outputs(outs, inputs, reg.additional_secret_outputs)
        self.state.put(Record(reg.urn, reg.typ, reg.name, id_, inputs, outs, dependencies=reg.dependencies,
                              retain_on_delete=reg.retain_on_delete))
        self._step(op, reg)
        return id_, outs

    # ---- after the program: deletes; refresh; destroy -----------------------------------------------------

    def finish(self) -> None:
        """Delete what the program no longer declares and what was replaced, dependents first."""
        gone = [r for r in self.state.live.values() if r.urn not in self.seen]
        for record in delete_order([*gone, *self.state.condemned]):
            self._delete(record, "delete-replaced" if record.delete else "delete")
            self.state.remove(record)

    def destroy(self) -> None:
        for record in delete_order(self.state.all()):
            self._delete(record, "delete")
            self.state.remove(record)

    def refresh(self) -> None:
        """Read every custom resource with its old outputs and inputs; an empty id drops it from state."""
        for record in list(self.state.all()):
            if not record.typ.startswith(DYNAMIC_PREFIX):
                continue  # plugin resources: their hooks stand for an unchanged cloud
            id_, outs, inputs = self.host().read_live(record.id, reveal(record.outs), reveal(record.inputs),
                                                      urn=record.urn)
            if not id_:
                self.state.remove(record)
                self.steps.append(Step("refresh", record.typ, record.name, plan="delete"))
                continue
            record.id = id_
            record.outs = annotate_secrets(engine_form(outs), record.outs)
            if inputs is not None:
                record.inputs = annotate_secrets(engine_form(inputs), record.inputs)
            self.steps.append(Step("refresh", record.typ, record.name))

    def _delete(self, record: Record, op: str) -> None:
        step = Step(op, record.typ, record.name)
        self.steps.append(step)
        if not record.typ.startswith(DYNAMIC_PREFIX) or record.retain_on_delete:
            return
        try:
            self.host().delete(record.id, reveal(record.outs), old_inputs=reveal(record.inputs), urn=record.urn)
        except Exception:
            step.failed = True  # the resource stays in state: the next destroy or up tries again
            raise

    # ---- helpers ----------------------------------------------------------------------------------------

    def _step(self, op: str, reg: Registration, plan: str = "", failed: bool = False) -> None:
        self.steps.append(Step(op, reg.typ, reg.name, plan, failed))
