"""A small dynamic provider for the simulated engine's own tests (tests/test_engine.py).

Each resource is a JSON file in `$LEDGER_DIR` (its "cloud"); every call the host makes is appended, with the
host's pid, to `$LEDGER_DIR/journal.jsonl` (unknowns written as "<unknown>"), so a test sees what the engine
sent, in which order and to which host process; `$LEDGER_DIR/faults.json` lists the methods that fail.

Inputs of `Entry`: `value`; `note` (the diff ignores it); `replace_on_change` (keys whose change needs a new
resource); `delete_first` (Diff answers deleteBeforeReplace); `strict` (Diff reads `value` as text, so an
unknown value crashes it); `invalid` (properties Check refuses); `secret_in` (echoed as an output). Outputs add
`stamp` (new on every create and update: known only to the provider) and `derived`.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

INPUTS = ("value", "note", "replace_on_change", "delete_first", "strict", "invalid", "secret_in")
COMPARED = tuple(k for k in INPUTS if k != "note")


def ledger_dir() -> Path:
    return Path(os.environ["LEDGER_DIR"])


def _plain(value: Any) -> Any:
    if isinstance(value, Unknown):
        return "<unknown>"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def journal(method: str, **fields: Any) -> None:
    entry = {"method": method, "pid": os.getpid(), **{k: _plain(v) for k, v in fields.items()}}
    with (ledger_dir() / "journal.jsonl").open("a") as f:
        f.write(json.dumps(entry) + "\n")


def _maybe_fail(method: str) -> None:
    faults = ledger_dir() / "faults.json"
    if faults.exists() and method in json.loads(faults.read_text()):
        raise RuntimeError(f"injected {method} failure")


def _write(id_: str, outs: dict[str, Any]) -> None:
    (ledger_dir() / f"{id_}.json").write_text(json.dumps(outs))


class LedgerProvider(ResourceProvider):
    _config: dict[str, Any] | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config = dict(req.config._props)  # the whole map, to show what the engine sent
        journal("configure", config=self._config)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        journal("check", olds=olds, news=news)
        return CheckResult(news, [CheckFailure(p, f"{p} is refused") for p in news.get("invalid") or []])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        journal("diff", id=id_, olds=olds, news=news)
        if news.get("strict"):
            news["value"].upper()  # fails on an unknown, as careless diff code does
        changed = [k for k in COMPARED if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in (news.get("replace_on_change") or [])]
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=bool(news.get("delete_first")))

    def create(self, props: dict[str, Any]) -> CreateResult:
        journal("create", props=props)
        _maybe_fail("create")
        id_ = uuid.uuid4().hex[:8]
        outs = self._outputs(props)
        _write(id_, outs)
        return CreateResult(id_, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        journal("update", id=id_, olds=olds, news=news)
        _maybe_fail("update")
        outs = self._outputs(news)
        _write(id_, outs)
        return UpdateResult(outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        journal("read", id=id_, props=props)
        path = ledger_dir() / f"{id_}.json"
        if not path.exists():
            return ReadResult(None, {})
        live = json.loads(path.read_text())
        return ReadResult(id_, live, {k: live[k] for k in INPUTS if k in live})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        journal("delete", id=id_, props=props)
        _maybe_fail("delete")
        (ledger_dir() / f"{id_}.json").unlink()

    @staticmethod
    def _outputs(props: dict[str, Any]) -> dict[str, Any]:
        inputs = {k: props[k] for k in INPUTS if k in props}
        return {**inputs, "stamp": uuid.uuid4().hex[:6], "derived": f"derived from {props.get('value')}"}


class Entry(pulumi.dynamic.Resource, module="ledger", name="Entry"):
    value: pulumi.Output[str]
    note: pulumi.Output[str]
    secret_in: pulumi.Output[str]
    stamp: pulumi.Output[str]
    derived: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LedgerProvider(), name, {"note": None, "secret_in": None, **props, "stamp": None,
                                                  "derived": None}, opts)
