"""A simulated `pulumi up` / `pulumi preview` / `pulumi destroy`, for tests: the CLI cannot run here.

The program (`__main__.py`) runs under Pulumi mocks, as the language host would run it. Each dynamic resource it
registers goes, as the engine would send it, through the SDK's real dynamic-provider host (`python -m
pulumi.dynamic`) over gRPC: Check then Create for a new resource; Check, Diff and then Update, replacement or
nothing for one already in state. Other resources (the image build's Command, RandomPassword, the
StackReference) get outputs from hooks, as their plugins would give them. State carries over between `up`s of
one `SimulatedStack`, and `destroy` deletes in reverse creation order, like the engine.
"""

from __future__ import annotations

import runpy
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from tests.conftest import PROJECT, ROOT, RecordingMocks, configure_mocks, stack_exports
from tests.provider_host import Host

DYNAMIC_PREFIX = "pulumi-python:dynamic"
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]


def unwrap_secrets(value: Any) -> Any:
    """Inputs reach mocks with secrets wrapped; the engine hands providers plain values (acceptSecrets=False)
    and unknowns as the UNKNOWN sentinel."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    if isinstance(value, pulumi.Output | Unknown):  # an unknown during preview: sent as the engine sends it
        return rpc.UNKNOWN
    return value


def without_nones(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if v is not None}


@dataclass
class Record:
    typ: str
    name: str
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]


@dataclass
class Step:
    op: str  # create, update, replace, same, delete, check
    typ: str
    name: str


@dataclass
class SimulatedStack:
    """One stack's state, driven through `up`, `preview` and `destroy` like the Pulumi engine would."""

    name: str
    host: Host
    config: dict[str, Any]
    rewrite_inputs: Rewrite | None = None  # e.g. point the health check at the loopback vLLM fake
    hooks: dict[str, Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]] = field(default_factory=dict)
    other_stacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # StackReference name → outputs
    state: dict[tuple[str, str], Record] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the program ----------------------------------------------------------------------------------------

    def _run(self, preview: bool) -> pulumi.Output[Any]:
        mocks = configure_mocks(self.name, self.config, preview=preview)
        mocks.new_resource = self._new_resource  # type: ignore[method-assign]
        mocks.stack_outputs = self.other_stacks
        self.mocks: RecordingMocks = mocks
        self.steps = []
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        exports = stack_exports()
        keys = list(exports)
        return pulumi.Output.all(*[exports[k] for k in keys]).apply(lambda vals: dict(zip(keys, vals, strict=True)))

    def up(self) -> pulumi.Output[dict[str, Any]]:
        """Register the program's resources; the returned Output resolves to the stack outputs."""

        def keep(outputs: dict[str, Any]) -> dict[str, Any]:
            self.outputs = outputs
            self.other_stacks[f"organization/{PROJECT}/{self.name}"] = outputs
            return outputs

        return self._run(preview=False).apply(keep)

    def preview(self) -> pulumi.Output[dict[str, Any]]:
        return self._run(preview=True)

    def destroy(self) -> None:
        for key in reversed(list(self.order)):
            record = self.state.pop(key)
            if record.typ.startswith(DYNAMIC_PREFIX):
                self.host.delete(record.id, record.outs, name=record.name)
            self.steps.append(Step("delete", record.typ, record.name))
        self.order.clear()

    def record(self, typ: str, name: str) -> Record:
        return self.state[(typ, name)]

    # ---- what the engine would do per resource ----------------------------------------------------------------

    def _new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.mocks.resources.append(args)
        if args.typ == "pulumi:pulumi:StackReference":
            stack_name = args.inputs["name"]
            return stack_name, {"name": stack_name, "outputs": self.other_stacks.get(stack_name, {}),
                                "secretOutputNames": []}
        inputs = without_nones(unwrap_secrets(dict(args.inputs)))
        if self.rewrite_inputs is not None:
            inputs = self.rewrite_inputs(args.typ, inputs)
        if args.typ.startswith(DYNAMIC_PREFIX):
            return self._dynamic(args, inputs)
        if not args.custom:
            return f"{args.name}-component", {}
        return self._plugin_resource(args, inputs)

    def _dynamic(self, args: pulumi.runtime.MockResourceArgs,
                 news: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        key = (args.typ, args.name)
        old = self.state.get(key)
        checked, failures = self.host.check(news, olds=old.inputs if old else None, name=args.name)
        if failures:
            raise RuntimeError(f"{args.typ}::{args.name} check failed: {failures}")
        if self.mocks_preview:
            self.steps.append(Step("check", args.typ, args.name))
            return (old.id if old else None), _public(old.outs if old else checked)
        if old is None:
            return self._create(key, args, checked)
        diff = self.host.diff(old.id, old.outs, checked, name=args.name)
        if list(diff.replaces):
            if diff.deleteBeforeReplace:
                self.host.delete(old.id, old.outs, name=args.name)
                self._forget(key)
                return self._create(key, args, checked, op="replace")
            created = self._create(key, args, checked, op="replace")
            self.host.delete(old.id, old.outs, name=args.name)
            return created
        if diff.changes == provider_pb2.DiffResponse.DIFF_SOME:
            outs = self.host.update(old.id, old.outs, checked, name=args.name)
            self._remember(key, Record(args.typ, args.name, old.id, checked, outs), "update")
            return old.id, _public(outs)
        self.steps.append(Step("same", args.typ, args.name))
        return old.id, _public(old.outs)

    @property
    def mocks_preview(self) -> bool:
        return bool(pulumi.runtime.is_dry_run())

    def _create(self, key: tuple[str, str], args: pulumi.runtime.MockResourceArgs, inputs: dict[str, Any],
                op: str = "create") -> tuple[str, dict[str, Any]]:
        id_, outs = self.host.create(inputs, name=args.name)
        self._remember(key, Record(args.typ, args.name, id_, inputs, outs), op)
        return id_, _public(outs)

    def _plugin_resource(self, args: pulumi.runtime.MockResourceArgs,
                         inputs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        key = (args.typ, args.name)
        old = self.state.get(key)
        if old is not None and old.inputs == inputs:
            self.steps.append(Step("same", args.typ, args.name))
            return old.id, old.outs
        hook = self.hooks.get(args.typ)
        outs = {**inputs, **(hook(args) if hook else {})}
        if self.mocks_preview:
            return None, inputs
        id_ = old.id if old else f"{args.name}-{secrets.token_hex(4)}"
        self._remember(key, Record(args.typ, args.name, id_, inputs, outs), "update" if old else "create")
        return id_, outs

    def _remember(self, key: tuple[str, str], record: Record, op: str) -> None:
        with self._lock:
            self.state[key] = record
            if key not in self.order:
                self.order.append(key)
            self.steps.append(Step(op, record.typ, record.name))

    def _forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self.state.pop(key, None)
            if key in self.order:
                self.order.remove(key)


def _public(outs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outs.items() if k != "__provider"}
