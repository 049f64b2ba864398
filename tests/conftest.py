"""Shared fixtures: Pulumi mocks set per test (never at module level: the last `set_mocks` would win)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.names import PROJECT  # noqa: E402

OutputsHook = Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registered resource; outputs echo the inputs plus what a per-type hook adds."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.hooks: dict[str, OutputsHook] = {}
        self.stack_outputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs["name"]
            outputs = self.stack_outputs.get(name, {})
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        outs = dict(args.inputs)
        hook = self.hooks.get(args.typ)
        if hook is not None:
            outs.update(hook(args))
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]


def configure_mocks(stack: str, config: dict[str, Any], secret_keys: tuple[str, ...] = (),
                    preview: bool = False,
                    monitor: Callable[[RecordingMocks], pulumi.runtime.mocks.MockMonitor] | None = None,
                    ) -> RecordingMocks:
    """Install fresh mocks and a whole config map (keys without the project prefix); `monitor` builds another
    monitor around the mocks (the simulated engine's)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=monitor(mocks) if monitor else None)
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": config_value(v) for k, v in config.items()},
                                  [f"{PROJECT}:{k}" for k in secret_keys])
    return mocks


def config_value(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value)


@pytest.fixture
def pulumi_mocks(request: pytest.FixtureRequest) -> RecordingMocks:
    """Mocks for one test; `@pytest.mark.stack("dev", {...})` chooses the stack and its config."""
    marker = request.node.get_closest_marker("stack")
    stack, config = marker.args if marker else ("dev", {})
    return configure_mocks(stack, config)


def committed_stack_config(stack: str) -> dict[str, Any]:
    """The project keys of `Pulumi.<stack>.yaml` as committed, without the `autoglm-runpod:` prefix."""
    import yaml

    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in (doc.get("config") or {}).items() if k.startswith(prefix)}


def stack_exports() -> dict[str, Any]:
    """The outputs `pulumi.export` registered on the current (mocked) root stack."""
    from pulumi.runtime.settings import get_root_resource

    root = get_root_resource()
    assert root is not None, "no root stack: were mocks set?"
    return dict(root.outputs)  # type: ignore[attr-defined]


# A failing Output that several exports share is reported once by the test and then again, per copy, by
# asyncio's "exception was never retrieved" logging when the futures are collected: keep that noise out.
logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real `docker-registry` on loopback with token auth (tests/registry.py), shared by the session: tests
    push under their own repository names and leave no fault queued."""
    from tests.fakes.registry_token import token_service
    from tests.registry import local_registry

    with token_service() as tokens, local_registry(tokens, tmp_path_factory.mktemp("registry")) as running:
        yield running
