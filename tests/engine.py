"""A simulated Pulumi CLI for tests: `preview`, `up` (with `--replace`), `refresh` and `destroy` of one stack.

The CLI cannot run here, so this stands in for the engine, following its source (pulumi/pulumi, read at commit
1b5949891b3c):

- pkg/resource/deploy/step_generator.go: which steps a registration makes (Check, then Diff for a resource in
  state; create, update, same or replace; create-before-delete unless `deleteBeforeReplace`; `--replace` skips
  Diff and Checks without old inputs; deletes after the program, dependents first);
- pkg/resource/deploy/step_executor.go: a failed step cancels the run, so no later step and no delete runs;
  `additionalSecretOutputs`, and outputs named like a secret input, are marked secret;
- pkg/resource/deploy/step.go: what each step leaves in state (a replaced resource stays, marked for deletion,
  until its delete succeeds; an unchanged one stores the new inputs; a failed delete keeps the resource; a
  refresh takes the provider's outputs, and its inputs when it returns some, and drops a resource whose id
  comes back empty);
- pkg/resource/plugin/provider_plugin.go: what each call sends (secrets stripped, since the Python host does not
  accept them; unknowns only during a preview; no Create or Update during a preview, whose outputs are the
  inputs) and how replies are annotated;
- pkg/resource/deploy/target.go (`GetPackageConfig`), providers/registry.go (`Diff`, `Same`) and deployment.go
  (`EnsureProvider`): the dynamic provider is configured with the whole stack config, keys namespaced
  (`autoglm-runpod:runpodApiKey`); a config change updates the provider (never replaces its resources) and is
  saved in state with each `up`; `refresh` and `destroy`, which do not run the program, configure it from the
  copy in state;
- sdk/python/lib/pulumi/dynamic/__main__.py of the pinned SDK (3.272.0): the host each dynamic resource goes
  through, over gRPC (tests/provider_host.py). Every command starts a fresh host for the stack, with the stack's
  environment; `up` first runs a preview in a host of its own, as the CLI does.

The program (`__main__.py`, or a function) runs under Pulumi mocks with the engine's monitor
(tests/engine_program.py); the steps are in tests/engine_steps.py, the state in tests/engine_state.py, the value
handling in tests/engine_values.py. An interrupted run is a second Ctrl-C: the CLI ends the update's provider
host at once (the Python host ignores Cancel), the call it served fails, and the run stops (`kill_provider_host`);
the pending create the engine then records is dropped by the next `up` with a warning and left alone by a
non-interactive `refresh`, so it is not modelled. Left out: parallel steps, `ignoreChanges`/`replaceOnChanges`,
targets, protect, import, the replacement of dependents of a delete-before-replace, and the preview that
`refresh` shows before it reads for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc

from tests.conftest import PROJECT, RecordingMocks, config_value
from tests.engine_program import Backend, ProgramRun, main_program, qualified
from tests.engine_state import Record, StackState, Step
from tests.engine_steps import DYNAMIC_PREFIX, Deployment, Hook, Rewrite
from tests.provider_host import Host, provider_host, started_in_background

__all__ = ["Backend", "Record", "SimulatedStack", "Step"]


@dataclass
class SimulatedStack:
    """One stack: its config, its state, and the commands a user runs on it."""

    name: str
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)  # the CLI's environment, which provider hosts inherit
    secret_keys: set[str] = field(default_factory=set)  # config keys set with `--secret`
    backend: Backend = field(default_factory=Backend)  # every stack of the project, for StackReferences
    program: Callable[[], None] = main_program
    rewrite_inputs: Rewrite | None = None  # e.g. point the health check at the loopback vLLM fake
    hooks: dict[str, Hook] = field(default_factory=dict)  # outputs of non-dynamic resources, per type
    snapshot: StackState = field(default_factory=StackState)
    provider_config: dict[str, Any] | None = None  # the dynamic provider's config, as saved by the last up
    steps: list[Step] = field(default_factory=list)  # of the last command (for `up`: of the update)
    preview_steps: list[Step] = field(default_factory=list)  # of the preview `up` ran first
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    mocks: RecordingMocks = field(default_factory=RecordingMocks)  # of the last program run: its registrations
    log: str = ""  # what the last command's provider hosts printed (pulumi.log lines), as the CLI would show
    update_host: Host | None = None  # the provider host of the last `up`'s update, once it was used

    def __post_init__(self) -> None:
        # `pulumi stack init`: the stack exists, with no outputs, before anything is deployed.
        self.backend.outputs.setdefault(qualified(self.name), {})

    # ---- commands -----------------------------------------------------------------------------------------

    def preview(self, replace: Iterable[str] = (), env: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        """The stack outputs as far as they are known (unknown ones are None); changes nothing."""
        with self._host(self.stack_config(), env) as host:
            return self._run(host, preview=True, replace=frozenset(replace)).outputs

    def up(self, replace: Iterable[str] = (), env: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        """Preview, then update; returns the stack outputs. Raises what failed; state keeps what was done."""
        targets, config = frozenset(replace), self.stack_config()
        # Each engine run gets its own host; the update's starts now, so that it is up when the preview is done.
        used: list[Host] = []
        try:
            with self._host(config, env) as preview_host, self._host(config, env) as update_host:
                self._run(preview_host, preview=True, replace=targets)
                self.preview_steps = self.steps

                def registered() -> Host:  # the default provider's new config is saved when it is registered
                    self.provider_config = config
                    if not used:
                        used.append(update_host())
                        self.update_host = used[0]
                    return used[0]

                run = self._run(registered, preview=False, replace=targets)
        finally:  # a host's stderr is read to its end once it has stopped
            self.log = "".join(host.stderr() for host in used)
        self.outputs, self.secret_outputs = run.outputs, run.secret_outputs
        self.backend.publish(qualified(self.name), run.outputs, run.secret_outputs)
        return run.outputs

    def refresh(self, env: Mapping[str, str | None] | None = None) -> None:
        with self._host(self._saved_config(), env) as host:
            deployment = Deployment(self.snapshot, host)
            self.steps = deployment.steps
            deployment.refresh()

    def destroy(self, env: Mapping[str, str | None] | None = None) -> None:
        with self._host(self._saved_config(), env) as host:
            deployment = Deployment(self.snapshot, host)
            self.steps = deployment.steps
            deployment.destroy()
        self.outputs, self.secret_outputs = {}, set()
        self.backend.publish(qualified(self.name), {}, set())

    def kill_provider_host(self) -> None:
        """A second Ctrl-C during `up` (from another thread): the update's provider host ends at once, so the call
        it serves stops where it is, and nothing in it can clean up."""
        assert self.update_host is not None, "no up has reached its update"
        self.update_host.proc.kill()

    # ---- state --------------------------------------------------------------------------------------------

    @property
    def state(self) -> dict[tuple[str, str], Record]:
        """Live resources by (type, name); replaced ones awaiting deletion are in `pending_deletes`."""
        return self.snapshot.live

    @property
    def pending_deletes(self) -> list[Record]:
        return list(self.snapshot.condemned)

    def record(self, typ: str, name: str) -> Record:
        return self.snapshot.live[(typ, name)]

    def stack_config(self) -> dict[str, Any]:
        """The config as the engine hands it to a dynamic provider: namespaced keys, secrets marked."""
        values = {f"{PROJECT}:{k}": config_value(v) for k, v in self.config.items()}
        return {k: rpc.wrap_rpc_secret(v) if k.removeprefix(f"{PROJECT}:") in self.secret_keys else v
                for k, v in values.items()}

    # ---- machinery ----------------------------------------------------------------------------------------

    def _run(self, host: Callable[[], Host], *, preview: bool, replace: frozenset[str]) -> ProgramRun:
        deployment = Deployment(self.snapshot, host, preview=preview, replace=replace, hooks=self.hooks,
                                rewrite=self.rewrite_inputs)
        self.steps = deployment.steps
        run = ProgramRun.prepare(self.name, self.config, tuple(sorted(self.secret_keys)), preview=preview,
                                 engine=deployment.register, backend=self.backend)
        self.mocks = run.mocks
        try:
            run.execute(self.program)
        except BaseException as program_error:
            raise (deployment.failure or program_error) from None
        if deployment.failure is not None:
            raise deployment.failure
        if not preview:
            deployment.finish()
        return run

    def _saved_config(self) -> dict[str, Any]:
        """`refresh` and `destroy` do not run the program: the provider is configured as the last up left it."""
        return self.provider_config if self.provider_config is not None else self.stack_config()

    def _host(self, config: Mapping[str, Any], env: Mapping[str, str | None] | None,
              ) -> AbstractContextManager[Callable[[], Host]]:
        """A fresh provider host for one engine run, started in the background; calling the result waits for it."""
        merged = {**self.env, **(env or {})}
        return started_in_background(provider_host(None, DYNAMIC_PREFIX, config=config, stack=self.name,
                                                   env={k: v for k, v in merged.items() if v is not None}))
