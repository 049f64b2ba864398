"""The failure paths an independent fault campaign broke (issue 12), one focused test each, through the SDK's
real provider host against the RunPod fake: no pod bills unseen, never two at once, no secret in any error or
log line, no false claim about billing, and a poll that rides out rate limiting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.providers.pod import POD_TYPE, PodProvider
from tests.fakes.runpod import FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

L40S, H100 = "NVIDIA L40S", "NVIDIA H100 PCIe"
IMAGE = "docker.io/acme/autoglm-vllm@sha256:0123"
NAME = "autoglm-runpod-dev-autoglm-pod"
KEY = "rpa_TOPSECRET_7d1e2f"
HF_TOKEN = "hf_abcdefSECRETtoken"
VLLM_KEY = "vllm-key-0123456789abcdef"
SECRETS = (KEY, HF_TOKEN, VLLM_KEY)
POLL_S = 0.05


def pod_props(**over: Any) -> dict[str, Any]:
    return {"name": NAME, "image": IMAGE, "gpu_type_ids": [L40S, H100], "min_cuda_version": "12.9",
            "ports": ["8000/http"], "env": {"MODEL": "zai-org/AutoGLM-Phone-9B", "HF_TOKEN": HF_TOKEN,
                                            "VLLM_API_KEY": VLLM_KEY}, "ready_timeout_s": 10, **over}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    timings = Timings(provisioning_s=0.03, starting_s=0.06, slow_starting_s=3.0)
    with FakeRunPod(api_key=KEY, timings=timings, image_cuda={IMAGE: "12.9"}) as f:
        yield f


def env(fake: FakeRunPod, **extra: str) -> dict[str, str]:
    return {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": str(POLL_S),
            "RUNPOD_RETRY_BACKOFF_S": "0.01", "RUNPOD_LANDING_GRACE_S": "3", **extra}


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    with provider_host(PodProvider(), POD_TYPE, env=env(fake)) as h:
        yield h


def create(host: Host, **over: Any) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check(pod_props(**over))
    assert failures == []
    return host.create(inputs)


def free_gpus(fake: FakeRunPod, gpu: str, free: int) -> None:
    """Only the host with the CUDA floor has GPUs free: `free` of them."""
    for h in fake.hosts:
        if h.gpu_type_id == gpu:
            h.free_gpus = free if h.cuda_version == "12.9" else 0


# ---- 1: a create that lands late is found whatever the next create answers --------------------------------------


def test_a_late_pod_is_adopted_when_the_retry_finds_no_capacity_left(fake: FakeRunPod, host: Host) -> None:
    """The create answers 500 and RunPod makes the pod 0.5 s later, holding the GPU meanwhile: the retry on
    that type finds no capacity, the next type has none either. The late pod is adopted, not leaked."""
    free_gpus(fake, L40S, 1)
    fake.set_free_gpus(H100, 0)
    fake.inject("POST", "/v2/pods", 500, land_after_s=0.5)
    pod_id, outs = create(host)
    assert fake.wait_landings(5)
    assert [p.id for p in fake.live_pods()] == [pod_id] and outs["status"] == "RUNNING"
    assert [r.status for r in fake.calls("POST", "/v2/pods")] == [500, 400, 400]
    assert f"made pod {pod_id}; adopting it" in host.stderr()


def test_a_late_pod_is_ended_when_the_create_fails_for_another_reason(fake: FakeRunPod, host: Host) -> None:
    """After the first create went unanswered, the next is rate limited past every retry: the create fails
    naming that cause, and the pod the first create makes late does not outlive it."""
    fake.inject("POST", "/v2/pods", 500, land_after_s=0.5)
    fake.inject("POST", "/v2/pods", 429, times=50)
    with pytest.raises(HostError) as caught:
        create(host)
    assert fake.wait_landings(5)
    assert "429 Too Many Requests" in caught.value.message
    assert fake.live_pods() == [] and len(fake.pods) == 1  # it landed, and was ended


# ---- 2: a late pod is ended as soon as it is seen, not once the kept pod runs ----------------------------------


def test_a_late_pod_does_not_bill_beside_the_kept_pod_while_it_starts(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/pods", 500, land_after_s=0.4)  # lands while the next create's pod starts
    fake.next_pods("ok")
    fake.next_pods("slow")  # the kept pod takes 3 s to start
    pod_id, outs = create(host)
    late = next(p for p in fake.pods.values() if p.id != pod_id)
    [(late_from, late_until)] = fake.billing(late.id)
    [(kept_from, _)] = fake.billing(pod_id)
    assert outs["status"] == "RUNNING" and late_until is not None
    overlap = late_until - max(late_from, kept_from)
    assert overlap < 0.6, f"two pods billed together for {overlap:.2f} s"  # a few polls, not the 3 s start
    assert fake.status_of(pod_id) == "RUNNING" and [p.id for p in fake.live_pods()] == [pod_id]


# ---- 3: no secret the provider was given appears in an error or a log line ------------------------------------


def seen_text(caught: pytest.ExceptionInfo[HostError], host: Host) -> str:
    return caught.value.details + host.stderr()


def test_a_400_that_echoes_the_env_leaks_no_secret(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/pods", 400, times=2, echo_env=True, detail="invalid container configuration")
    with pytest.raises(HostError) as caught:
        create(host)
    text = seen_text(caught, host)
    assert "invalid container configuration: env" in caught.value.message  # the cause is still named
    assert '"HF_TOKEN": "***"' in caught.value.message
    assert not [s for s in SECRETS if s in text]


def test_a_system_log_that_quotes_the_env_leaks_no_secret(fake: FakeRunPod, host: Host) -> None:
    fake.next_pods("echo_env")
    with pytest.raises(HostError) as caught:
        create(host)
    text = seen_text(caught, host)
    assert "turned ERROR" in caught.value.message and "the last system log line is 'start.sh: exiting" in text
    assert all(f"start.sh: {name}=***" in text for name in ("HF_TOKEN", "VLLM_API_KEY"))  # the log, as printed
    assert not [s for s in SECRETS if s in text]
    assert fake.billing_pods() == []


def test_an_update_answered_with_the_old_and_new_env_leaks_neither(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    news = {**{k: outs[k] for k in pod_props()}, "env": {"HF_TOKEN": "hf_rotatedSECRET"}}
    fake.inject("PATCH", "/v2/pods/.+", 400, detail=f"cannot change HF_TOKEN from {HF_TOKEN} to hf_rotatedSECRET")
    with pytest.raises(HostError) as caught:
        host.update(pod_id, outs, news)
    text = seen_text(caught, host)
    assert "cannot change HF_TOKEN from *** to ***" in caught.value.message
    assert not [s for s in (*SECRETS, "hf_rotatedSECRET") if s in text]


# ---- 4: terminating is retried until RunPod confirms; "still bills" only when it does --------------------------


def test_a_delete_answered_500_after_it_ended_the_pod_is_confirmed_not_failed(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    fake.inject("DELETE", "/v2/pods/.+", 500, after_apply=True)
    host.delete(pod_id, outs)
    assert fake.live_pods() == []


def test_a_delete_answered_500_is_retried_until_it_succeeds(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    fake.inject("DELETE", "/v2/pods/.+", 500, times=2)
    host.delete(pod_id, outs)
    assert fake.live_pods() == [] and [r.status for r in fake.calls("DELETE")] == [500, 500, 204]


def test_a_failed_create_says_its_pod_was_terminated_after_a_500(fake: FakeRunPod, host: Host) -> None:
    fake.next_pods("error")
    fake.inject("DELETE", "/v2/pods/.+", 500, after_apply=True)
    with pytest.raises(HostError) as caught:
        create(host)
    message = caught.value.message
    assert "turned ERROR" in message and "was terminated, so it does not bill" in message
    assert "bills until you end it" not in message and "failed too" not in message
    assert fake.billing_pods() == []


def test_a_pod_runpod_will_not_end_is_reported_billing_because_the_last_look_says_so(fake: FakeRunPod) -> None:
    with provider_host(PodProvider(), POD_TYPE, env=env(fake, RUNPOD_STOP_TIMEOUT_S="0.5")) as host:
        pod_id, outs = create(host)
        fake.inject("DELETE", "/v2/pods/.+", 500, times=10**6)
        with pytest.raises(HostError) as caught:
            host.delete(pod_id, outs)
    assert (f"Terminating pod {pod_id} failed (RunPod DELETE /v2/pods/{pod_id}: 500 Internal Server Error: upstream "
            "request failed): RunPod still shows it RUNNING ($0.86/h), and it bills until you end it") in (
        caught.value.message)
    assert "sweep --stack dev" in caught.value.message
    assert [p.id for p in fake.billing_pods()] == [pod_id]


# ---- 5: the status poll rides out a run of 429s within its deadline ---------------------------------------------


def test_a_run_of_429s_on_the_status_poll_does_not_abort_the_create(fake: FakeRunPod, host: Host) -> None:
    fake.inject("GET", "/v2/pods/[^/]+", 429, times=12)  # three times what the client's retries absorb
    pod_id, outs = create(host)
    assert outs["status"] == "RUNNING" and [p.id for p in fake.live_pods()] == [pod_id]
    assert fake.calls("DELETE") == [] and "429 Too Many Requests" in host.stderr()
