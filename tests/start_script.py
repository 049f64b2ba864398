"""docker/start.sh, run for real: bash, the real nginx, and stubs for `nvidia-smi` and `vllm` on a PATH that holds
nothing else.

Two `vllm` stubs: RECORDING_STUB records the arguments and the cache variables it was started with, then waits
for SIGTERM; FAKE_VLLM_STUB serves the project's vLLM fake (tests/fakes/vllm.py) on the host and port the script
passes. Every run gets free ports on 127.0.0.1 and its own directory for nginx's config, pid, temp files and logs,
and runs in its own process group, which is killed at the end whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

START = ROOT / "docker" / "start.sh"
NGINX = Path("/usr/sbin/nginx")
TOOLS = ("bash", "mkdir", "cat", "sleep", "mv", "rm")  # all the script needs besides nginx and the stubs

RECORDING_STUB = f"""#!{sys.executable}
import json, os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM, signal.SIGINT}})
seen = {{k: os.environ.get(k) for k in ("HF_HOME", "VLLM_CACHE_ROOT", "VLLM_API_KEY")}}
record = os.environ["STUB_RECORD"]
with open(record + ".part", "w") as f:
    json.dump({{"argv": sys.argv[1:], "env": seen}}, f)
os.rename(record + ".part", record)
signal.sigwait({{signal.SIGTERM, signal.SIGINT}})
"""

FAKE_VLLM_STUB = f"""#!{sys.executable}
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.fakes.vllm import main
sys.exit(main(sys.argv[1:]))
"""

NVIDIA_SMI_STUB = """#!/bin/bash
cat <<BANNER
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 575.57.08              Driver Version: 575.57.08      CUDA Version: ${STUB_CUDA}     |
|-----------------------------------------+------------------------+----------------------+
BANNER
"""

# What the Dockerfile bakes into the image for vLLM 0.12.0, and the nvidia/cuda base's own CUDA_VERSION.
IMAGE_ENV = {"CUDA_FLOOR": "12.9", "CUDA_MIN_DRIVER": "575.51.03", "IMAGE_VLLM_VERSION": "0.12.0",
             "CUDA_VERSION": "12.9.1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting until {what}")
        time.sleep(0.02)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    record: dict[str, Any] | None  # None: vllm was never started
    proxy_dir: Path  # where the script rendered nginx's configuration

    @property
    def argv(self) -> list[str]:
        assert self.record is not None, f"vllm was not started:\n{self.stdout}\n{self.stderr}"
        argv: list[str] = self.record["argv"]
        return argv

    def seen(self, name: str) -> str | None:
        assert self.record is not None
        value: str | None = self.record["env"][name]
        return value


class Launched:
    """One start script running in its own process group; paths and ports of what it started."""

    def __init__(self, process: subprocess.Popen[bytes], env: dict[str, str], out: Path, err: Path) -> None:
        self.process = process
        self.env = env
        self._out, self._err = out, err

    @property
    def port(self) -> int:
        return int(self.env["PORT"])

    @property
    def vllm_port(self) -> int:
        return int(self.env.get("VLLM_PORT") or 8001)

    @property
    def proxy_dir(self) -> Path:
        return Path(self.env["PROXY_DIR"])

    @property
    def access_log(self) -> str:
        return Path(self.env["PROXY_ACCESS_LOG"]).read_text()

    @property
    def error_log(self) -> str:
        path = Path(self.env["PROXY_ERROR_LOG"])
        return path.read_text() if path.exists() else ""

    @property
    def stdout(self) -> str:
        return self._out.read_text()

    @property
    def stderr(self) -> str:
        return self._err.read_text()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def running(self) -> bool:
        return self.process.poll() is None

    def child(self, command: str) -> int:
        """The pid of the script's child process named `command` (`nginx`, `vllm`)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            if Path(f"/proc/{child}/comm").read_text().strip() == command:
                return int(child)
        raise AssertionError(f"no {command} process under the start script (children: {children})")

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 20) -> int:
        if self.running():
            self.process.send_signal(signum)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = 20) -> int:
        return self.process.wait(timeout=timeout_s)

    def kill_group(self) -> None:
        """Whatever is left of this run (nginx workers orphaned by a killed master, say)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class StartScript:
    def __init__(self, tmp_path: Path, vllm_stub: str = RECORDING_STUB) -> None:
        assert NGINX.is_file(), (f"{NGINX} is missing: the proxy tests run the real nginx. Install it "
                                 "(apt-get install nginx-light); .ci/run does.")
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        (self.bin / "nginx").symlink_to(NGINX)
        self._stub("vllm", vllm_stub)
        self.record = tmp_path / "vllm.json"
        self._runs = 0

    def _stub(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)

    def with_driver(self) -> StartScript:
        self._stub("nvidia-smi", NVIDIA_SMI_STUB)
        return self

    def launch(self, env: dict[str, str] | None = None, *args: str, host_cuda: str = "12.9") -> Launched:
        self._runs += 1
        run_dir = self.tmp / f"run{self._runs}"
        run_dir.mkdir()
        full = {"PATH": str(self.bin), "STUB_RECORD": str(self.record), "STUB_CUDA": host_cuda, **IMAGE_ENV,
                "PORT": str(free_port()), "PROXY_HOST": "127.0.0.1", "PROXY_DIR": str(run_dir / "proxy"),
                "PROXY_ACCESS_LOG": str(run_dir / "access.log"), "PROXY_ERROR_LOG": str(run_dir / "error.log"),
                **(env or {})}
        out, err = run_dir / "stdout", run_dir / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen([str(self.bin / "bash"), str(START), *args], env=full, stdout=stdout,
                                       stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True)
        return Launched(process, full, out, err)

    def run(self, env: dict[str, str] | None = None, *args: str, host_cuda: str = "12.9") -> Run:
        """Start the script, wait until it started vllm (or ended), then stop it as `docker stop` would."""
        launched = self.launch(env, *args, host_cuda=host_cuda)
        try:
            wait_for(lambda: self.record.exists() or not launched.running(), 30, "vllm starts or the script ends")
            returncode = launched.stop()
        finally:
            launched.kill_group()
        record = json.loads(self.record.read_text()) if self.record.exists() else None
        return Run(returncode, launched.stdout, launched.stderr, record, launched.proxy_dir)
