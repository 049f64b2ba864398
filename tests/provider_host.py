"""Drive the SDK's real dynamic-provider host (`python -m pulumi.dynamic`) over gRPC, as the engine does.

The Pulumi CLI cannot run here, so tests start the same host process the engine would start (cwd = the
project root, so `components.*` is importable from the pickled provider), then call Configure, Check,
Create, Read, Diff, Update and Delete on it. Structs are built with `Struct.update` rather than
`rpc.serialize_properties`: the latter needs `asyncio.run`, which breaks later Pulumi mocks tests.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.names import PROJECT

ROOT = Path(__file__).resolve().parent.parent


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(props))
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(s, keep_unknowns=True))


def urn(type_token: str, name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_token}::{name}"


_urn_of = urn  # `Host` methods take a keyword named `urn`


class HostError(Exception):
    """A provider method raised: `message` is the last line of the traceback the host sent back."""

    def __init__(self, details: str) -> None:
        self.details = details
        lines = [ln for ln in details.strip().splitlines() if ln.strip()]
        self.message = lines[-1] if lines else details
        super().__init__(self.message)


@dataclass
class Host:
    """One running provider host; every call mirrors what the engine sends."""

    stub: provider_pb2_grpc.ResourceProviderStub
    proc: subprocess.Popen[bytes]
    type_token: str
    provider: ResourceProvider | None
    stack: str = "dev"
    stderr_lines: list[str] = field(default_factory=list)
    drain: StderrDrain | None = None

    def _urn(self, name: str, urn: str | None = None) -> str:
        return urn or _urn_of(self.type_token, name, self.stack)

    def _news(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        # Props that carry their own pickled provider (as the engine's do) keep it.
        if "__provider" in props or self.provider is None:
            return to_struct(props)
        return to_struct({**props, "__provider": serialize_provider(self.provider)})

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as e:
            raise HostError(e.details() or str(e)) from None

    def configure(self, config: Mapping[str, Any]) -> None:
        self._call("Configure", provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True,
                                                               acceptResources=True))

    def check(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None = None,
              name: str = "res", *, urn: str | None = None) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        resp = self._call("Check", provider_pb2.CheckRequest(
            urn=self._urn(name, urn), olds=to_struct(olds or {}), news=self._news(props)))
        return from_struct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def create(self, props: Mapping[str, Any], name: str = "res", *,
               urn: str | None = None) -> tuple[str, dict[str, Any]]:
        resp = self._call("Create", provider_pb2.CreateRequest(urn=self._urn(name, urn), properties=self._news(props)))
        return resp.id, from_struct(resp.properties)

    def read(self, id_: str, outs: Mapping[str, Any], name: str = "res") -> tuple[str, dict[str, Any]]:
        read_id, live, _ = self.read_live(id_, outs, name=name)
        return read_id, live

    def read_live(self, id_: str, outs: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
                  name: str = "res", *, urn: str | None = None) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Read as a refresh sends it (old outputs and inputs); returns the id, outputs and, when the provider
        gave them, the inputs to diff against from now on."""
        resp = self._call("Read", provider_pb2.ReadRequest(
            id=id_, urn=self._urn(name, urn), properties=to_struct(outs),
            inputs=None if inputs is None else to_struct(inputs)))
        return resp.id, from_struct(resp.properties), from_struct(resp.inputs) if resp.HasField("inputs") else None

    def diff(self, id_: str, outs: Mapping[str, Any], news: Mapping[str, Any], name: str = "res", *,
             old_inputs: Mapping[str, Any] | None = None, urn: str | None = None) -> provider_pb2.DiffResponse:
        return self._call("Diff", provider_pb2.DiffRequest(
            id=id_, urn=self._urn(name, urn), olds=to_struct(outs), news=self._news(news),
            old_inputs=to_struct(old_inputs or {})))

    def update(self, id_: str, outs: Mapping[str, Any], news: Mapping[str, Any], name: str = "res", *,
               old_inputs: Mapping[str, Any] | None = None, urn: str | None = None) -> dict[str, Any]:
        resp = self._call("Update", provider_pb2.UpdateRequest(
            id=id_, urn=self._urn(name, urn), olds=to_struct(outs), news=self._news(news),
            old_inputs=to_struct(old_inputs or {})))
        return from_struct(resp.properties)

    def delete(self, id_: str, outs: Mapping[str, Any], name: str = "res", *,
               old_inputs: Mapping[str, Any] | None = None, urn: str | None = None) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=self._urn(name, urn), properties=to_struct(outs),
                                                        old_inputs=to_struct(old_inputs or {})))

    def stderr(self) -> str:
        """Everything the host printed on stderr so far (its `pulumi.log` output). What it printed before the
        last call returned is in: the drain is waited for until the pipe holds no unread byte."""
        if self.drain is not None:
            self.drain.settle()
        return "".join(self.stderr_lines)

    def logged(self, text: str, timeout_s: float = 5.0) -> bool:
        """Whether the host prints `text` on stderr within `timeout_s` (the drain thread reads it a little later)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.stderr():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


@contextmanager
def provider_host(provider: ResourceProvider | None, type_token: str, env: Mapping[str, str] | None = None,
                  config: Mapping[str, Any] | None = None, stack: str = "dev") -> Iterator[Host]:
    """Start `python -m pulumi.dynamic` from the project root, Configure it, yield a `Host`, stop it."""
    proc_env = {**os.environ, "PULUMI_PROJECT": PROJECT, "PULUMI_STACK": stack, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"], cwd=ROOT,
                            env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    port = int(proc.stdout.readline())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=15)
    host = Host(provider_pb2_grpc.ResourceProviderStub(channel), proc, type_token, provider, stack)
    # Drain stderr continuously: a provider that logs a lot would otherwise block on a full pipe.
    host.drain = StderrDrain(proc.stderr, host.stderr_lines)
    reader = threading.Thread(target=host.drain.run, daemon=True)
    reader.start()
    try:
        host.configure(config or {})
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        channel.close()  # after the host is gone: closing a channel to a live server waits ~0.2 s
        reader.join(timeout=5)
        proc.stdout.close()


@contextmanager
def started_in_background(host: AbstractContextManager[Host]) -> Iterator[Callable[[], Host]]:
    """Start a host (`provider_host(...)`) in a thread now; the yielded function waits for it. Stopped on exit,
    whether it was used or not."""
    started: Future[Host] = Future()

    def start() -> None:
        try:
            started.set_result(host.__enter__())
        except BaseException as e:
            started.set_exception(e)

    threading.Thread(target=start, name="provider-host-start", daemon=True).start()
    try:
        yield started.result
    finally:
        if started.exception() is None:
            host.__exit__(None, None, None)


class StderrDrain:
    """Reads a host's stderr into `sink` line by line, and can tell when it has read all the pipe holds. Each read
    and its append happen under the lock, once `select` says bytes wait: so a look under the lock that finds the
    pipe empty (FIONREAD) knows every line the host wrote before a call returned is in `sink`."""

    def __init__(self, stream: IO[bytes], sink: list[str]) -> None:
        self.stream, self.sink, self.fd = stream, sink, stream.fileno()
        self.done = False
        self.lock = threading.Lock()

    def run(self) -> None:
        pending = b""
        while True:
            select.select([self.fd], [], [])
            with self.lock:
                chunk = os.read(self.fd, 65536)
                *lines, pending = (pending + chunk).split(b"\n")
                self.sink.extend(line.decode(errors="replace") + "\n" for line in lines)
                if not chunk:
                    if pending:
                        self.sink.append(pending.decode(errors="replace"))
                    self.done = True
                    break
        self.stream.close()

    def settle(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.done or _unread(self.fd) == 0:
                    return
            time.sleep(0.002)


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe (0 when it is closed)."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0
