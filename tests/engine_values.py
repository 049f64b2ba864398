"""Property values as the simulated engine keeps them, and as it hands them to a provider.

State keeps secrets marked (the SDK's secret wrapper, `{sig: secret, value: ...}`, stands for the engine's
`resource.Secret`) and unknowns as the `rpc.UNKNOWN` sentinel. The Python dynamic host answers Configure with
`acceptSecrets: false`, so every request strips the marks (`reveal`), and the engine puts them back on what the
provider returns: `annotate_secrets` is `annotateSecrets` of pkg/resource/plugin/provider_plugin.go, and
`mark_secret_outputs` the `additionalSecretOutputs` pass of pkg/resource/deploy/step_executor.go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc


def engine_form(value: Any) -> Any:
    """A value from the SDK or a provider host, with every unknown as the `rpc.UNKNOWN` sentinel."""
    return _rebuild(value, keep_secrets=True)


def reveal(value: Any) -> Any:
    """What a provider that does not accept secrets is sent: every secret mark stripped."""
    return _rebuild(value, keep_secrets=False)


def _rebuild(value: Any, keep_secrets: bool) -> Any:
    if rpc.is_rpc_secret(value):
        inner = _rebuild(rpc.unwrap_rpc_secret(value), keep_secrets)
        return rpc.wrap_rpc_secret(inner) if keep_secrets else inner
    if isinstance(value, Mapping):
        return {k: _rebuild(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rebuild(v, keep_secrets) for v in value]
    return rpc.UNKNOWN if isinstance(value, pulumi.Output | Unknown) else value


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def contains_secrets(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_secrets(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secrets(v) for v in value)
    return False


def annotate_secrets(outs: Mapping[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs with the secret mark of the same-named inputs (objects recursively, anything else whole)."""
    marked = dict(outs)
    for key, given in ins.items():
        if key not in marked:
            continue
        got = marked[key]
        if isinstance(got, Mapping) and not is_secret(got) and isinstance(given, Mapping) and not is_secret(given):
            marked[key] = annotate_secrets(got, given)
        elif not is_secret(got) and contains_secrets(given):
            marked[key] = rpc.wrap_rpc_secret(got)
    return marked


def mark_secret_outputs(outs: Mapping[str, Any], inputs: Mapping[str, Any],
                        additional: Iterable[str]) -> dict[str, Any]:
    """The step executor's pass: `additionalSecretOutputs`, then any output whose input of that name is secret."""
    marked = dict(outs)
    for key in additional:
        if key in marked and not is_secret(marked[key]):
            marked[key] = rpc.wrap_rpc_secret(marked[key])
    for key, value in list(marked.items()):
        if not is_secret(value) and is_secret(inputs.get(key)):
            marked[key] = rpc.wrap_rpc_secret(value)
    return marked
