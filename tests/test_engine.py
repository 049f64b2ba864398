"""The simulated engine (tests/engine.py) does what Pulumi's engine does, shown with a provider that journals
every call it gets (tests/ledger_provider.py): the order of a replacement, preview before up, refresh, failed
deletes, the provider's configuration, `--replace`, secrets, StackReferences and Check failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.engine import SimulatedStack
from tests.engine_steps import CheckFailed
from tests.engine_values import is_secret
from tests.ledger_provider import Entry

ENTRY = "pulumi-python:dynamic/ledger:Entry"


@dataclass
class Ledger:
    """The provider's files: its resources, the journal of calls, the faults to inject."""

    root: Path

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        path = self.root / "journal.jsonl"
        entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [e for e in entries if method is None or e["method"] == method]

    def forget_calls(self) -> None:
        (self.root / "journal.jsonl").unlink(missing_ok=True)

    def fail(self, *methods: str) -> None:
        (self.root / "faults.json").write_text(json.dumps(list(methods)))

    def live(self) -> dict[str, dict[str, Any]]:
        return {p.stem: json.loads(p.read_text()) for p in self.root.glob("*.json") if p.stem != "faults"}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path)


def stack(ledger: Ledger, program: Callable[[], None], config: dict[str, Any], name: str = "dev",
          **kwargs: Any) -> SimulatedStack:
    return SimulatedStack(name, config, env={"LEDGER_DIR": str(ledger.root)}, program=program, **kwargs)


def pair_program() -> None:
    """`a` is replaced when its value changes; `b` depends on a's provider-only output, as the health check on
    the pod's id."""
    config = pulumi.Config()
    dbr = config.get_bool("dbrOption")
    a = Entry("a", {"value": config.require("a"), "replace_on_change": ["value"],
                    "delete_first": config.get_bool("dbrProvider") or False},
              pulumi.ResourceOptions(delete_before_replace=dbr) if dbr is not None else None)
    b = Entry("b", {"value": a.stamp.apply(lambda s: f"after {s}"), "strict": config.get_bool("strict") or False,
                    "note": config.get("note") or "first"}, pulumi.ResourceOptions(depends_on=[a]))
    pulumi.export("a", a.value)
    pulumi.export("b", b.value)


def ids(stack: SimulatedStack) -> dict[str, str]:
    return {name: stack.record(ENTRY, name).id for name in ("a", "b")}


def sequence(ledger: Ledger) -> list[tuple[str, str]]:
    """(method, id or value) of the create, update and delete calls, in order."""
    return [(e["method"], e.get("id") or e["props"]["value"]) for e in ledger.calls()
            if e["method"] in ("create", "update", "delete")]


# ---- 1. replacement order --------------------------------------------------------------------------------

def test_a_replacement_is_created_then_dependents_updated_then_the_old_one_deleted(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    old = ids(dev)
    ledger.forget_calls()

    dev.config["a"] = "two"
    dev.up()
    new_a = dev.record(ENTRY, "a").id
    assert new_a != old["a"] and dev.record(ENTRY, "b").id == old["b"]
    assert sequence(ledger) == [("create", "two"), ("update", old["b"]), ("delete", old["a"])]
    assert [s.op for s in dev.steps] == ["replace", "update", "delete-replaced"]
    assert set(ledger.live()) == {new_a, old["b"]} and dev.pending_deletes == []


def replace_a_while_failing(ledger: Ledger, method: str) -> tuple[SimulatedStack, dict[str, str]]:
    """Deploy the pair, then change `a` (a replacement) while the provider's `method` fails: that up fails."""
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    old = ids(dev)
    ledger.fail(method)
    dev.config["a"] = "two"
    with pytest.raises(Exception, match=f"injected {method} failure"):
        dev.up()
    return dev, old


def test_a_failed_update_leaves_the_replaced_resource_in_state_until_an_up_succeeds(ledger: Ledger) -> None:
    dev, old = replace_a_while_failing(ledger, "update")
    new_a = dev.record(ENTRY, "a").id
    assert [r.id for r in dev.pending_deletes] == [old["a"]] and dev.pending_deletes[0].delete
    assert set(ledger.live()) == {old["a"], new_a, old["b"]}, "both stay: the old one was not deleted"
    assert ledger.calls("delete") == []
    assert dev.record(ENTRY, "b").inputs["value"] == ledger.live()[old["b"]]["value"], "b kept its old state"

    ledger.fail()
    ledger.forget_calls()
    dev.up()
    assert [(e["method"], e.get("id")) for e in ledger.calls() if e["method"] in ("update", "delete")] == [
        ("update", old["b"]), ("delete", old["a"])]
    assert dev.pending_deletes == [] and set(ledger.live()) == {new_a, old["b"]}


@pytest.mark.parametrize("config", [{"dbrOption": True}, {"dbrProvider": True}],
                         ids=["resource option", "provider's diff"])
def test_delete_before_replace_deletes_first(ledger: Ledger, config: dict[str, Any]) -> None:
    dev = stack(ledger, pair_program, {"a": "one", **config})
    dev.up()
    old = ids(dev)
    ledger.forget_calls()
    dev.config["a"] = "two"
    dev.up()
    assert sequence(ledger) == [("delete", old["a"]), ("create", "two"), ("update", old["b"])]
    assert [s.op for s in dev.steps] == ["delete-replaced", "replace", "update"]


# ---- 2. preview: Check, then Diff with unknowns; up previews first -------------------------------------

def test_up_previews_first_in_its_own_host_and_diff_sees_unknowns(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    ledger.forget_calls()
    dev.config["note"] = "second"
    dev.preview()
    b_diff = [e for e in ledger.calls("diff") if e["id"] == dev.record(ENTRY, "b").id]
    assert [e["news"]["note"] for e in b_diff] == ["second"]
    assert ledger.calls("update") == [] and ledger.calls("create") == []

    ledger.forget_calls()
    dev.config["a"] = "two"  # a is replaced: b's value is unknown at preview
    dev.up()
    preview_pid, update_pid = ledger.calls("configure")[0]["pid"], ledger.calls("configure")[1]["pid"]
    assert preview_pid != update_pid
    in_preview = [e for e in ledger.calls() if e["pid"] == preview_pid]
    assert [e["method"] for e in in_preview] == ["configure", "check", "diff", "check", "check", "diff"]
    assert in_preview[-1]["news"]["value"] == "<unknown>", "b's Diff saw a's new stamp as unknown"
    assert [(s.op, s.plan) for s in dev.preview_steps] == [("diff", "replace"), ("diff", "update")]


def test_a_diff_that_crashes_on_an_unknown_fails_the_up_before_any_change(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one", "strict": True})
    dev.up()
    before = ledger.live()
    ledger.forget_calls()
    dev.config["a"] = "two"
    with pytest.raises(Exception, match="AttributeError: 'Unknown' object has no attribute 'upper'"):
        dev.up()
    assert ledger.calls("create") == [] and ledger.calls("update") == [] and ledger.live() == before


def test_preview_leaves_provider_only_outputs_unknown(ledger: Ledger) -> None:
    def program() -> None:
        entry = Entry("a", {"value": pulumi.Config().require("a")})
        pulumi.export("stamp", entry.stamp)
        pulumi.export("value", entry.value)

    dev = stack(ledger, program, {"a": "one"})
    first = dev.up()
    dev.config["a"] = "two"
    assert dev.preview() == {"stamp": None, "value": "two"}
    dev.config["a"] = "one"
    assert dev.preview() == first, "unchanged: the outputs in state"


# ---- 3. refresh ----------------------------------------------------------------------------------------

def test_refresh_reads_with_the_old_outputs_and_takes_the_inputs_it_returns(ledger: Ledger) -> None:
    def program() -> None:
        Entry("a", {"value": pulumi.Config().require("a")})

    dev = stack(ledger, program, {"a": "one"})
    dev.up()
    record = dev.record(ENTRY, "a")
    live = ledger.live()[record.id]
    (ledger.root / f"{record.id}.json").write_text(json.dumps({**live, "value": "changed outside"}))
    ledger.forget_calls()

    dev.refresh()
    (read,) = ledger.calls("read")
    assert read["props"]["stamp"] == live["stamp"] and read["id"] == record.id
    assert dev.record(ENTRY, "a").inputs["value"] == "changed outside"
    assert [s.op for s in dev.steps] == ["refresh"]

    dev.up()  # the program still says "one": the diff against the refreshed state puts it back
    assert [s.op for s in dev.steps] == ["update"] and ledger.live()[record.id]["value"] == "one"


def test_refresh_drops_a_resource_gone_outside_and_the_next_up_creates_it(ledger: Ledger) -> None:
    def program() -> None:
        Entry("a", {"value": "one"})

    dev = stack(ledger, program, {})
    dev.up()
    gone = dev.record(ENTRY, "a").id
    (ledger.root / f"{gone}.json").unlink()
    dev.refresh()
    assert dev.state == {} and [(s.op, s.plan) for s in dev.steps] == [("refresh", "delete")]
    dev.up()
    assert [s.op for s in dev.steps] == ["create"] and dev.record(ENTRY, "a").id != gone


# ---- 4. a failed delete keeps the resource -------------------------------------------------------------

def test_a_failed_delete_keeps_the_resource_in_state(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    ledger.fail("delete")
    with pytest.raises(Exception, match="injected delete failure"):
        dev.destroy()
    assert set(dev.state) == {(ENTRY, "a"), (ENTRY, "b")}, "b's delete failed first: nothing was forgotten"
    assert len(ledger.live()) == 2

    ledger.fail()
    dev.destroy()
    assert dev.state == {} and ledger.live() == {}
    assert [s.op for s in dev.steps] == ["delete", "delete"]


def test_a_failed_delete_of_a_replaced_resource_is_retried_by_the_next_up(ledger: Ledger) -> None:
    dev, old = replace_a_while_failing(ledger, "delete")
    assert [r.id for r in dev.pending_deletes] == [old["a"]] and old["a"] in ledger.live()

    ledger.fail()
    dev.up()
    assert dev.pending_deletes == [] and old["a"] not in ledger.live()


def retained_program() -> None:
    """`a` is kept by a destroy while the stack's config says so (Pulumi's `retain_on_delete`)."""
    config = pulumi.Config()
    Entry("a", {"value": config.require("a")}, pulumi.ResourceOptions(retain_on_delete=config.get_bool("keep")))


def test_retain_on_delete_drops_the_resource_from_state_without_a_provider_call(ledger: Ledger) -> None:
    dev = stack(ledger, retained_program, {"a": "one", "keep": "true"})
    dev.up()
    dev.destroy()
    assert dev.state == {} and [s.op for s in dev.steps] == ["delete"]
    assert ledger.calls("delete") == [] and len(ledger.live()) == 1

    dev = stack(ledger, retained_program, {"a": "two", "keep": "true"})
    dev.up()
    dev.config["keep"] = "false"  # the option as last registered decides
    dev.up()
    dev.destroy()
    assert len(ledger.calls("delete")) == 1 and len(ledger.live()) == 1, "the first one is still kept"


# ---- 5. the provider's configuration -------------------------------------------------------------------

def test_each_command_and_stack_configures_a_fresh_host_with_the_whole_stack_config(ledger: Ledger) -> None:
    def program() -> None:
        Entry("a", {"value": "one"})

    dev = stack(ledger, program, {"token": "t1", "region": "eu"}, secret_keys={"token"})
    prod = stack(ledger, program, {"token": "p1"}, name="prod", secret_keys={"token"})
    dev.up()
    prod.up()
    dev.config["token"] = "t2"  # rotated in config; no `up` since
    dev.refresh()
    dev.destroy()

    configures = ledger.calls("configure")
    assert len({e["pid"] for e in configures}) == len(configures) == 6, "preview and up of each stack, refresh, destroy"
    assert [e["config"] for e in configures] == [
        {"autoglm-runpod:token": "t1", "autoglm-runpod:region": "eu"}] * 2 + [
        {"autoglm-runpod:token": "p1"}] * 2 + [
        {"autoglm-runpod:token": "t1", "autoglm-runpod:region": "eu"}] * 2, \
        "secrets unwrapped; refresh and destroy use the config saved by the last up"


def test_an_up_saves_the_new_config_for_the_next_destroy(ledger: Ledger) -> None:
    def program() -> None:
        Entry("a", {"value": "one"})

    dev = stack(ledger, program, {"token": "t1"}, secret_keys={"token"})
    dev.up()
    dev.config["token"] = "t2"
    dev.up()
    ledger.forget_calls()
    dev.destroy()
    assert [e["config"] for e in ledger.calls("configure")] == [{"autoglm-runpod:token": "t2"}]


# ---- 6. up --replace -----------------------------------------------------------------------------------

def test_up_replace_forces_a_replacement_without_diff_and_checks_without_old_inputs(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    old = ids(dev)
    urn = dev.record(ENTRY, "a").urn
    assert urn == "urn:pulumi:dev::autoglm-runpod::pulumi-python:dynamic/ledger:Entry::a"
    ledger.forget_calls()

    dev.up(replace=[urn])
    update_pid = ledger.calls("configure")[-1]["pid"]
    a_calls = [e for e in ledger.calls() if e["pid"] == update_pid and e["method"] in ("check", "diff", "create")
               and (e.get("news") or e["props"])["value"] == "one"]
    assert [e["method"] for e in a_calls] == ["check", "create"], "no Diff for a resource given to --replace"
    assert a_calls[0]["olds"] == {}
    assert sequence(ledger) == [("create", "one"), ("update", old["b"]), ("delete", old["a"])]
    assert [(s.op, s.plan) for s in dev.preview_steps] == [("check", "replace"), ("diff", "update")]


# ---- 8. secrets, StackReferences, unchanged inputs, Check failures -------------------------------------

def test_outputs_are_secret_like_their_inputs_and_as_additional_secret_outputs(ledger: Ledger) -> None:
    def program() -> None:
        entry = Entry("a", {"value": "v", "secret_in": pulumi.Output.secret("hush")},
                      pulumi.ResourceOptions(additional_secret_outputs=["derived"]))
        for key in ("value", "secret_in", "derived", "stamp"):
            pulumi.export(key, getattr(entry, key))

    dev = stack(ledger, program, {})
    out = dev.up()
    assert out["secret_in"] == "hush" and ledger.calls("create")[0]["props"]["secret_in"] == "hush"
    assert dev.secret_outputs == {"secret_in", "derived"}
    outs = dev.record(ENTRY, "a").outs
    assert {k for k, v in outs.items() if is_secret(v)} == {"secret_in", "derived", "__provider"}


def test_a_stack_reference_to_a_stack_that_does_not_exist_fails(ledger: Ledger) -> None:
    def program() -> None:
        pulumi.export("x", pulumi.StackReference("organization/autoglm-runpod/nowhere").get_output("x"))

    with pytest.raises(Exception, match='unknown stack "organization/autoglm-runpod/nowhere"'):
        stack(ledger, program, {}).up()


def test_an_unchanged_resource_stores_the_new_inputs_and_keeps_its_outputs(ledger: Ledger) -> None:
    dev = stack(ledger, pair_program, {"a": "one"})
    dev.up()
    outs = dev.record(ENTRY, "b").outs
    dev.config["note"] = "second"  # the provider's diff ignores `note`
    dev.up()
    assert [s.op for s in dev.steps] == ["same", "same"]
    assert dev.record(ENTRY, "b").inputs["note"] == "second" and dev.record(ENTRY, "b").outs == outs


def test_a_check_failure_reports_one_error_per_property(ledger: Ledger) -> None:
    def program() -> None:
        Entry("a", {"value": "v", "note": "n", "invalid": ["value", "note"]})

    dev = stack(ledger, program, {})
    with pytest.raises(CheckFailed) as failed:
        dev.up()
    assert failed.value.diagnostics == [
        f"{ENTRY} resource 'a': property value value 'v' has a problem: value is refused",
        f"{ENTRY} resource 'a': property note value 'n' has a problem: note is refused"]
    assert ledger.live() == {} and dev.state == {}
