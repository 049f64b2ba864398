"""A dynamic resource's inputs, declared once as a frozen dataclass whose fields carry their rules.

Each field of a spec dataclass states its type (the annotation), its default (the dataclass default; none
means required), and in `metadata` its check, how a raw value becomes the typed one, the stack setting a
user changes to fix it, and whether a change needs a new resource. `Schema` derives from that what the
provider needs: the keys, the defaults, `check` (one failure per bad property), the changed keys of a diff,
the typed spec from raw props, and messages that name the setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import pulumi
from pulumi.dynamic import CheckFailure
from pulumi.runtime import rpc

__all__ = ["Schema", "is_unknown", "spec_field"]

Spec = TypeVar("Spec")
Check = Callable[[Any], str | None]


def spec_field(check: Check, *, convert: Callable[[Any], Any] = lambda v: v, setting: str | None = None,
               replaces: bool = False, default: Any = dataclasses.MISSING,
               default_factory: Any = dataclasses.MISSING, secret: bool = False) -> Any:
    """A spec field: `check` returns why a raw value is bad (None when fine); `setting` is what a user
    changes (full text, e.g. `autoglm-runpod:gpuTypes`); `secret` keeps it out of reprs."""
    metadata = {"check": check, "convert": convert, "setting": setting, "replaces": replaces}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata,
                             repr=not secret)


def is_unknown(value: Any) -> bool:
    """During preview, values computed by other resources arrive as `Unknown` (possibly nested)."""
    if isinstance(value, pulumi.output.Unknown) or value == rpc.UNKNOWN:
        return True
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


class Schema(Generic[Spec]):
    """The rules of one spec dataclass (see the module docstring)."""

    def __init__(self, spec: type[Spec], cross_checks: Mapping[str, Callable[[Mapping[str, Any]], str | None]]
                 | None = None, *, reasons_name_the_key: bool = False) -> None:
        self.spec = spec
        self.reasons_name_the_key = reasons_name_the_key  # checks that say "base_url is empty" get no prefix
        self.cross_checks = dict(cross_checks or {})  # rules between inputs, reported on the key named
        self.fields = {f.name: f for f in dataclasses.fields(spec)}  # type: ignore[arg-type]
        self.keys = tuple(self.fields)
        self.required = tuple(k for k, f in self.fields.items() if _default(f) is dataclasses.MISSING)
        self.replace_keys = frozenset(k for k, f in self.fields.items() if f.metadata["replaces"])

    def defaults(self) -> dict[str, Any]:
        """Every non-None default, as plain data (what a resource registers and a check fills in)."""
        values = {k: _plain(_default(f)) for k, f in self.fields.items()}
        return {k: v for k, v in values.items() if v is not None and v is not dataclasses.MISSING}

    def with_defaults(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """`props` (less the host's `__provider`) over the defaults."""
        return {**self.defaults(), **{k: v for k, v in props.items() if k != "__provider"}}

    def resource_props(self, args: Any, outputs: Iterable[str]) -> dict[str, Any]:
        """What a Resource registers: the args dataclass the program passed over the declared defaults (None
        takes the default), and every output key, unknown until the provider answers (an input of the same name
        keeps its value)."""
        given = {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
        props = self.with_defaults({k: v for k, v in given.items() if v is not None})
        props.update({k: props.get(k) for k in outputs})
        return props

    def setting(self, key: str) -> str:
        """The stack setting behind a property (the property itself when no setting maps to it)."""
        field = self.fields.get(key)
        return (field.metadata["setting"] if field else None) or key

    def named(self, key: str) -> str:
        """A property with the setting behind it: `gpu_type_ids (autoglm-runpod:gpuTypes)`."""
        field = self.fields.get(key)
        setting = field.metadata["setting"] if field else None
        return f"{key} ({setting})" if setting else key

    def check(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[CheckFailure]]:
        """Defaults filled in, and one failure per bad property (unknown values are checked at `up`)."""
        inputs = self.with_defaults(news)
        failures = [CheckFailure(k, f"{self.named(k)} is required") for k in self.required if inputs.get(k) is None]
        for key, field in self.fields.items():
            value = inputs.get(key)
            if value is None or is_unknown(value):  # unset (required ones are reported above) or not known yet
                continue
            if reason := field.metadata["check"](value):
                failures.append(CheckFailure(key, self._failure(key, reason)))
        for key, rule in self.cross_checks.items():
            if reason := rule(inputs):
                failures.append(CheckFailure(key, self._failure(key, reason)))
        return inputs, failures

    def _failure(self, key: str, reason: str) -> str:
        return reason if self.reasons_name_the_key else f"{self.named(key)} {reason}"

    def changed(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """The inputs whose new value is unknown or differs (both sides with defaults filled in)."""
        old, new = self.with_defaults(olds), self.with_defaults(news)
        return [k for k in self.keys if is_unknown(new.get(k)) or old.get(k) != new.get(k)]

    def parse(self, props: Mapping[str, Any]) -> Spec:
        """The typed spec from checked props (the host hands every number over as a float)."""
        values = self.with_defaults(props)
        typed = {k: (None if values.get(k) is None else f.metadata["convert"](values[k]))
                 for k, f in self.fields.items() if k in values or _default(f) is dataclasses.MISSING}
        return self.spec(**typed)

    def plain(self, spec: Spec) -> dict[str, Any]:
        """The spec as it goes into outputs and state: plain data, unset optional inputs left out."""
        values = {k: _plain(getattr(spec, k)) for k in self.keys}
        return {k: v for k, v in values.items() if v is not None}


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
