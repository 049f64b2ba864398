"""What the fake's cloud is made of: GPU types, hosts, pods and their phases, and the ledger of billing.

Billing follows RunPod: a pod bills GPU time while it holds its GPUs (PROVISIONING, STARTING, RUNNING, and
ERROR, which keeps them), not when EXITED or TERMINATED. Every status a pod enters is kept with the time it
entered it (`history`), so each pod's billing intervals can be read back after the fact (`billing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS_BY_STATUS", "BILLING_STATUSES", "DEFAULT_DATA_CENTERS", "DEFAULT_GPU_TYPES", "FATES",
           "NO_FREE_GPUS", "NO_INSTANCES", "FakeDataCenter", "FakeGpuType", "FakeHost", "FakePod", "FakeVolume",
           "RecordedRequest", "Timings", "default_hosts", "version"]

NO_INSTANCES = ("There are no longer any instances available with the requested specifications. "
                "Please refresh and try again.")
NO_FREE_GPUS = "There are not enough free GPUs on the host machine to start this pod."
BILLING_STATUSES = frozenset({"PROVISIONING", "STARTING", "RUNNING", "ERROR"})
ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "PROVISIONING": ("stop", "terminate"), "STARTING": ("stop", "terminate"),
    "RUNNING": ("stop", "restart", "terminate"), "EXITED": ("start", "terminate"),
    "ERROR": ("start", "terminate"), "TERMINATED": (),
}
# How a pod's start ends (`FakeRunPod.next_pods`): 'ok' reaches RUNNING; 'slow' takes `Timings.slow_starting_s`;
# 'stuck_starting' never leaves STARTING; 'error' turns ERROR; 'exited' turns EXITED (the container quit);
# 'echo_env' turns ERROR after its system log quotes the pod's env lines (a start script that prints them).
FATES = frozenset({"ok", "slow", "stuck_starting", "error", "exited", "echo_env"})


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@dataclass(frozen=True)
class FakeGpuType:
    """A GPU type as the catalog lists it. `pool` is its serverless pool and `price_serverless` the pool's list
    price per GPU per hour (None: in no pool); `secure`/`community`: offered in that cloud."""

    id: str
    name: str
    memory_gb: int
    price_secure: float
    price_community: float
    max_count: int = 8
    pool: str | None = None
    price_serverless: float | None = None
    secure: bool = True
    community: bool = True


@dataclass(frozen=True)
class FakeDataCenter:
    """A data center of `/v2/catalog/datacenters`: the network volume tiers it offers."""

    id: str
    name: str
    region: str = "NORTH_AMERICA"
    volume_types: tuple[str, ...] = ("STANDARD",)


@dataclass
class FakeHost:
    """One machine: a GPU type, the CUDA version its driver reports, and how many of its GPUs are free."""

    gpu_type_id: str
    cuda_version: str
    free_gpus: int = 8
    data_center_id: str = "US-TX-3"
    cloud: str = "SECURE"


@dataclass(frozen=True)
class Timings:
    """Seconds a pod spends in each phase (scale them down for tests, up for the benchmark)."""

    provisioning_s: float = 0.05
    starting_s: float = 0.1
    slow_starting_s: float = 1.0  # the 'slow' fate: an image pull that takes a while


@dataclass
class FakePod:
    id: str
    name: str
    image: str
    gpu_type_id: str
    gpu_count: int
    host: FakeHost
    cloud: str = "SECURE"
    args: str = ""
    disk: int = 50
    env: dict[str, str] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)
    registry: str | None = None
    mounts: dict[str, Any] = field(default_factory=dict)
    status: str = "PROVISIONING"
    phase_since: float = 0.0
    fate: str = "ok"
    locked: bool = False
    created_at: str = ""
    started_at: str | None = None
    history: list[tuple[str, float]] = field(default_factory=list)  # (status, fake clock when entered)
    logs: list[dict[str, Any]] = field(default_factory=list)  # {seq, ts, source, line}
    requested_at: float | None = None  # when the create that made it arrived (a late pod lands after it)

    @property
    def holds_gpus(self) -> bool:
        return self.status in BILLING_STATUSES

    def billing(self) -> list[tuple[float, float | None]]:
        """The intervals (start, end) during which the pod held GPUs; end None while it still does."""
        spans: list[tuple[float, float | None]] = []
        since: float | None = None
        for status, at in self.history:
            if status in BILLING_STATUSES and since is None:
                since = at
            elif status not in BILLING_STATUSES and since is not None:
                spans.append((since, at))
                since = None
        if since is not None:
            spans.append((since, None))
        return spans


@dataclass
class FakeVolume:
    """A network volume: where it lives, and `root`, a directory standing for its storage (None when the fake
    was given no place for volumes' files), which pods that mount it see."""

    id: str
    name: str
    size: int
    data_center: str
    type: str
    root: Path | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it: `started` when it arrived, `at` when it was answered, `status` 0 for a
    connection closed without an answer."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    at: float
    authorized: bool
    started: float = 0.0


# Pools and serverless prices as RunPod's pricing table has them (flex $/s × 3600), for orientation only.
DEFAULT_GPU_TYPES = (
    FakeGpuType("NVIDIA L40S", "L40S", 48, 0.86, 0.79, pool="ADA_48_PRO", price_serverless=1.908),
    FakeGpuType("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48, 0.77, 0.74, pool="ADA_48_PRO",
                price_serverless=1.908),
    FakeGpuType("NVIDIA H100 PCIe", "H100 PCIe", 80, 2.39, 1.99, pool="ADA_80_PRO", price_serverless=4.176),
    FakeGpuType("NVIDIA A40", "A40", 48, 0.40, 0.35, pool="AMPERE_48", price_serverless=1.224),
)
DEFAULT_DATA_CENTERS = (
    FakeDataCenter("US-TX-3", "US Texas 3", volume_types=("STANDARD", "HIGH_PERFORMANCE")),
    FakeDataCenter("EU-RO-1", "EU Romania 1", region="EUROPE"),
    FakeDataCenter("EU-SE-1", "EU Sweden 1", region="EUROPE", volume_types=("STANDARD", "HIGH_PERFORMANCE")),
)


def default_hosts() -> list[FakeHost]:
    """Each GPU type has an old-driver host (12.8) listed first and a current one (12.9), so a create
    without a CUDA floor lands on the old driver, as on the real cloud."""
    hosts: list[FakeHost] = []
    for gpu in DEFAULT_GPU_TYPES:
        hosts += [FakeHost(gpu.id, "12.8", 8, "EU-RO-1"), FakeHost(gpu.id, "12.9", 8, "US-TX-3")]
    return hosts
