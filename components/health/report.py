"""What a probe found, for people (`summary`), for one line of an error (`diagnosis`) and as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["HealthReport"]


@dataclass(frozen=True)
class HealthReport:
    """What the probe found. `healthy` is False with `failed_step` and `reason` when a step failed."""

    healthy: bool
    failed_step: str | None
    reason: str | None
    base_url: str  # the server root, without /v1
    model: str  # the served model name asked for
    served_model: str | None = None
    served_models: tuple[str, ...] = ()
    max_model_len: int | None = None
    vllm_version: str | None = None
    seconds_to_ready: float | None = None  # probe start → first 200 from /health
    seconds_to_healthy: float | None = None  # probe start → every check passed
    latencies_ms: dict[str, float] = field(default_factory=dict)  # per step, of its (last) request
    health_polls: int = 0
    image_checked: bool = False
    last_status: int | None = None  # the last HTTP status seen, and an excerpt of its body
    last_body: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["served_models"] = list(self.served_models)
        return data

    def diagnosis(self) -> str:
        """One line: where it failed, why, the last answer and the time spent."""
        if self.healthy:
            return f"healthy after {self.elapsed_s:.1f} s"
        last = "" if self.last_status is None else f" [last answer: HTTP {self.last_status}" + (
            f": {self.last_body}]" if self.last_body else "]")
        return (f"vLLM at {self.base_url} is unhealthy: step '{self.failed_step}' failed after "
                f"{self.elapsed_s:.1f} s: {self.reason}{last}")

    def summary(self) -> str:
        """The report for people; the last line is `healthy` or `unhealthy: <reason>`."""
        lines = [f"vLLM at {self.base_url}"]
        if self.served_model:
            lines.append(f"  served model   {self.served_model} (max_model_len {self.max_model_len})")
        elif self.served_models:
            lines.append(f"  served models  {', '.join(self.served_models)}")
        if self.vllm_version:
            lines.append(f"  vLLM version   {self.vllm_version}")
        if self.seconds_to_ready is not None:
            lines.append(f"  ready after    {self.seconds_to_ready:.1f} s (/health polled {self.health_polls}×)")
        if self.latencies_ms:
            lines.append("  latencies      " + " · ".join(f"{k} {v:.0f} ms" for k, v in self.latencies_ms.items()))
        if not self.image_checked and self.healthy:
            lines.append("  image request  skipped")
        if not self.healthy:
            lines.append(f"  failed step    {self.failed_step}")
            if self.last_status is not None:
                lines.append(f"  last answer    HTTP {self.last_status}: {self.last_body or '(empty body)'}")
        lines.append(f"  elapsed        {self.elapsed_s:.1f} s")
        lines.append("healthy" if self.healthy else f"unhealthy: {self.reason}")
        return "\n".join(lines)
