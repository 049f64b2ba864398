"""The campaign's scale: small timings through the provider's own knobs (components.tuning), and the names and
secrets every lifecycle uses."""

from __future__ import annotations

from tests.fakes.runpod import Timings

POLL_S = 0.05  # RUNPOD_POLL_INTERVAL_S: the provider's first pause between polls and looks
READ_TIMEOUT_S = 0.5  # RUNPOD_READ_TIMEOUT_S: an answer later than this never arrives
LANDING_GRACE_S = 1.2  # RUNPOD_LANDING_GRACE_S: late pods land well inside it (LATE_LANDING_S)
STOP_TIMEOUT_S = 2.0  # RUNPOD_STOP_TIMEOUT_S: stops, and terminates retried until RunPod confirms
READY_TIMEOUT_S = 2  # the pod's ready_timeout_s (a stuck pod costs this much)
NO_ANSWER_S = 0.8  # how long the fake sits on a request that is answered "not at all"
LATE_LANDING_S = (0.1, 0.6)  # when a create answered with an error makes its pod anyway
SLOW_REQUEST_S = 0.15  # a request that took longer was slowed by a fault
# Two pods of one resource may bill together for one poll interval, plus what RunPod spent failing or
# stalling the provider's requests, plus this much for scheduling on a busy machine (reading a failed pod's
# system log, a 2-core CI runner).
OVERLAP_SLACK_S = 0.75
TIMINGS = Timings(provisioning_s=0.03, starting_s=0.08, slow_starting_s=2.0)

NAME = "autoglm-runpod-chaos-autoglm-pod"
IMAGE = "docker.io/acme/autoglm-vllm@sha256:" + "c" * 64
API_KEY = "rpa_CHAOS_key_5e3b1c9d7f"
GPU_TYPES = ("NVIDIA L40S", "NVIDIA H100 PCIe", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A40")


def host_env() -> dict[str, str]:
    """The provider host's environment: every wait scaled down, the key and URL left to Configure."""
    return {"RUNPOD_POLL_INTERVAL_S": str(POLL_S), "RUNPOD_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
            "RUNPOD_LANDING_GRACE_S": str(LANDING_GRACE_S), "RUNPOD_STOP_TIMEOUT_S": str(STOP_TIMEOUT_S),
            "RUNPOD_RETRY_BACKOFF_S": "0.01", "RUNPOD_API_KEY": "", "RUNPOD_API_URL": ""}
