"""Running the program for the simulated engine: the SDK's mock monitor, with the engine's view of each request.

The program runs under Pulumi mocks (the language host cannot run without the CLI), with a monitor that hands
the engine what the real resource monitor receives and the plain mocks drop: the URN (built as the engine's
`generateURN` does: the parent's type chain, never the root stack's), the dependencies, `deleteBeforeReplace`
and `additionalSecretOutputs`. A StackReference is a read of another stack's outputs; a stack the backend does
not know fails with the engine's `unknown stack "<name>"` (pkg/backend/backend.go).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import runpy
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT as ROOT_RESOURCE
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from tests.conftest import PROJECT, ROOT, RecordingMocks, configure_mocks, stack_exports
from tests.engine_values import engine_form

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
SDK_OUTPUT_MODULE = "/pulumi/output.py"
# `StackReference.get_output` makes `Output.future()` and `Output.is_known()` coroutines that a failed read
# never awaits (pulumi/stack_reference.py): the warning says nothing about the program.
UNAWAITED_AFTER_A_FAILED_READ = r"coroutine 'Output\.(future|is_known)' was never awaited"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class Registration:
    """One RegisterResource request as the engine sees it; inputs in engine form (secrets marked)."""

    urn: str
    typ: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    delete_before_replace: bool | None  # None: the option was not set
    retain_on_delete: bool = False


Engine = Callable[[Registration], tuple[str | None, dict[str, Any]]]


@dataclass
class Backend:
    """The stacks the backend holds, as StackReferences read them: outputs and which of them are secret."""

    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, set[str]] = field(default_factory=dict)

    def publish(self, stack: str, outputs: dict[str, Any], secret_names: set[str]) -> None:
        self.outputs[stack] = dict(outputs)
        self.secrets[stack] = set(secret_names)

    def read(self, stack: str) -> tuple[dict[str, Any], list[str]]:
        if stack not in self.outputs:
            raise KeyError(stack)
        return self.outputs[stack], sorted(self.secrets.get(stack, ()))


def qualified(stack: str) -> str:
    """The DIY backend's name of one of this project's stacks."""
    return f"organization/{PROJECT}/{stack}"


class EngineMonitor(MockMonitor):
    """The mock monitor, sending registrations to the simulated engine instead of `Mocks.new_resource`."""

    def __init__(self, mocks: RecordingMocks, engine: Engine, backend: Backend) -> None:
        super().__init__(mocks)
        self.recorder = mocks
        self.engine = engine
        self.backend = backend

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        qualified_type = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != ROOT_STACK_TYPE:
                qualified_type = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified_type, name])

    def RegisterResource(self, request: Any) -> Any:
        if request.type == ROOT_STACK_TYPE:
            return super().RegisterResource(request)
        _ensure_event_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        registration = Registration(
            urn=urn, typ=request.type, name=request.name, custom=bool(request.custom),
            inputs=engine_form(rpc.deserialize_properties(request.object)),
            dependencies=tuple(d for d in [request.parent, *request.dependencies] if d),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            retain_on_delete=bool(request.retainOnDelete))
        self.recorder.resources.append(registration)  # type: ignore[arg-type]
        id_, state = self.engine(registration)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj)

    def ReadResource(self, request: Any) -> Any:
        if request.type != STACK_REFERENCE_TYPE:
            return super().ReadResource(request)
        name = request.id
        try:
            outputs, secret_names = self.backend.read(name)
        except KeyError:
            raise RuntimeError(f'unknown stack "{name}"') from None
        state = {"name": name, "outputs": outputs, "secretOutputNames": secret_names}
        urn = self.make_urn(request.parent, request.type, request.name)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=_sync_await(rpc.serialize_properties(state, {})))


def main_program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@dataclass
class ProgramRun:
    """One run of the program, as the language host would do it, with the engine behind the monitor."""

    mocks: RecordingMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    @classmethod
    def prepare(cls, stack: str, config: dict[str, Any], secret_keys: tuple[str, ...], *, preview: bool,
                engine: Engine, backend: Backend) -> ProgramRun:
        ROOT_RESOURCE.set(None)  # a fresh root stack, as each run of the language host has: exports do not pile up
        return cls(configure_mocks(stack, config, secret_keys, preview=preview,
                                   monitor=lambda m: EngineMonitor(m, engine, backend)))

    def execute(self, program: Callable[[], None] = main_program) -> None:
        """Raises what the program (or a registration) raised; otherwise the exports are in `outputs`."""

        async def collect() -> None:
            for key, value in stack_exports().items():
                output = pulumi.Output.from_input(value)
                self.outputs[key] = await output.future()
                if await output.is_secret():
                    self.secret_outputs.add(key)

        @pulumi.runtime.test
        def run() -> Any:
            program()
            return collect()

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", UNAWAITED_AFTER_A_FAILED_READ, RuntimeWarning)
            try:
                run()
            except BaseException:
                _settle()
                raise


def _settle() -> None:
    """End what a failed run left pending (outputs waiting on a failed registration or read), so that it cannot
    fail the next run on the same event loop, as a process ends with the language host's."""
    _cancel_leftovers(_ensure_event_loop())
    SETTINGS.outputs.clear()
    SETTINGS.rpc_manager.clear()
    # A failed StackReference read leaves coroutines of its Outputs that were never started, some alive until the
    # interpreter exits (and warned about then): close them now.
    for obj in gc.get_objects():
        if (isinstance(obj, types.CoroutineType) and obj.cr_code.co_filename.endswith(SDK_OUTPUT_MODULE)
                and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED):
            obj.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
