"""A simulated stack's state (its snapshot) and the steps a command took, as the engine records them.

A resource's state holds its URN, id, inputs (as Check returned them), outputs (as the provider returned them,
secrets marked) and dependencies. A resource replaced create-before-delete stays in state marked for deletion
(`pkgresource.State.Delete`) until a later step deletes it; a resource deleted before its replacement is created
stays marked `PendingReplacement` until that create succeeds (pkg/resource/deploy/step.go, CreateStep and
DeleteStep). A resource registered with `retainOnDelete` keeps that flag in state, and its delete step only
drops it from the state, never calling the provider (DeleteStep.Apply). Deletes run dependents first
(pkg/resource/deploy/step_generator.go, `ScheduleDeletes`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_SEQUENCE = itertools.count()


@dataclass
class Record:
    urn: str
    typ: str
    name: str
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]
    custom: bool = True
    dependencies: tuple[str, ...] = ()  # URNs: the parent, `depends_on` and property dependencies
    delete: bool = False  # replaced, waiting to be deleted once the update succeeds
    pending_replacement: bool = False  # deleted before its replacement, which has not been created yet
    retain_on_delete: bool = False  # the option as last registered: a delete drops it from state only
    seq: int = field(default_factory=lambda: next(_SEQUENCE))

    @property
    def key(self) -> tuple[str, str]:
        return (self.typ, self.name)


@dataclass
class Step:
    """One step of a command. During a preview `op` is what ran against the provider (`check` for a resource to
    create, `diff` for one in state) and `plan` what `pulumi up` would do; otherwise `plan` equals `op`."""

    op: str  # create, update, replace, same, delete, delete-replaced, refresh, check, diff
    typ: str
    name: str
    plan: str = ""
    failed: bool = False

    def __post_init__(self) -> None:
        self.plan = self.plan or self.op


@dataclass
class StackState:
    """The snapshot: live resources by (type, name), and replaced ones awaiting deletion."""

    live: dict[tuple[str, str], Record] = field(default_factory=dict)
    condemned: list[Record] = field(default_factory=list)

    def all(self) -> list[Record]:
        return [*self.live.values(), *self.condemned]

    def by_urn(self, urn: str) -> Record | None:
        return next((r for r in self.live.values() if r.urn == urn), None)

    def put(self, record: Record) -> None:
        self.live[record.key] = record

    def condemn(self, record: Record) -> None:
        """Create-before-delete: the old resource stays in state, marked for deletion."""
        record.delete = True
        self.condemned.append(record)

    def remove(self, record: Record) -> None:
        if record in self.condemned:
            self.condemned.remove(record)
        elif self.live.get(record.key) is record:
            del self.live[record.key]


def delete_order(records: Iterable[Record]) -> list[Record]:
    """Dependents before what they depend on; among independent ones, the newest first."""
    remaining = sorted(records, key=lambda r: r.seq, reverse=True)
    ordered: list[Record] = []
    while remaining:
        needed = {dep for r in remaining for dep in r.dependencies}
        ready = [r for r in remaining if r.urn not in needed] or remaining[:1]  # a cycle cannot happen; be safe
        ordered.append(ready[0])
        remaining.remove(ready[0])
    return ordered
