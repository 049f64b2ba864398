"""`PodProvider` through the SDK's real dynamic-provider host (gRPC), against the loopback RunPod fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from components.names import POD_RESOURCE as STACK_POD_RESOURCE
from components.names import provisional_name, stack_of
from components.names import resource_name as pod_name
from components.providers.pod import POD_TYPE, Pod, PodArgs, PodError, PodProvider
from components.providers.pod_inputs import POD_INPUTS
from components.providers.pod_rules import explain
from components.runpod import PodInfo, RunPodClient
from tests.conftest import RecordingMocks
from tests.fakes.runpod import NO_FREE_GPUS, NO_INSTANCES, FakeRunPod, Timings
from tests.provider_host import Host, HostError, provider_host

L40S, H100, A40 = "NVIDIA L40S", "NVIDIA H100 PCIe", "NVIDIA A40"
IMAGE = "docker.io/acme/autoglm-vllm@sha256:0123"
# The stack setting behind each pod property that has one, as messages name it.
SETTINGS = {k: POD_INPUTS.setting(k) for k in POD_INPUTS.keys if POD_INPUTS.setting(k) != k}
NAME = "autoglm-runpod-dev-svc-pod"
KEY = "rpa_TOPSECRET_7d1e2f"
HF_TOKEN = "hf_abcdefSECRET"


def pod_props(**over: Any) -> dict[str, Any]:
    return {"name": NAME, "image": IMAGE, "gpu_type_ids": [L40S, H100], "min_cuda_version": "12.9",
            "ports": ["8000/http"], "env": {"HF_TOKEN": HF_TOKEN, "VLLM_API_KEY": "vk-123"},
            "ready_timeout_s": 5, **over}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(api_key=KEY, timings=Timings(0.03, 0.06), image_cuda={IMAGE: "12.9"}) as f:
        yield f


def host_env(fake: FakeRunPod, **extra: str) -> dict[str, str]:
    return {"RUNPOD_API_URL": fake.base_url, "RUNPOD_API_KEY": fake.api_key, "RUNPOD_POLL_INTERVAL_S": "0.02",
            **extra}


@pytest.fixture
def host(fake: FakeRunPod) -> Iterator[Host]:
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake)) as h:
        yield h


def create(host: Host, **over: Any) -> tuple[str, dict[str, Any]]:
    inputs, failures = host.check(pod_props(**over))
    assert failures == []
    return host.create(inputs)


# ---- check ----------------------------------------------------------------------------------------------


def test_check_fills_defaults_without_calling_runpod(fake: FakeRunPod, host: Host) -> None:
    inputs, failures = host.check({"name": NAME, "image": IMAGE, "gpu_type_ids": [L40S], "min_cuda_version": "12.9"})
    assert failures == []
    assert (inputs["gpu_count"], inputs["cloud"], inputs["ports"], inputs["running"]) == (1, "SECURE", ["8000/http"],
                                                                                           True)
    assert fake.requests_log == []


def test_check_names_each_bad_property_and_the_fix(host: Host) -> None:
    _, failures = host.check(pod_props(
        name="", gpu_type_ids=[], gpu_count=0, cloud="ALL", min_cuda_version="12", container_disk_gb=-1,
        ports=["8000"], env={"1BAD": "x"}, volume_mount_path="workspace", max_cost_per_hour=0,
        ready_timeout_s=1.5, running="yes", network_volume_id=""))
    reasons = dict(failures)
    assert set(reasons) == {"name", "gpu_type_ids", "gpu_count", "cloud", "min_cuda_version", "container_disk_gb",
                            "ports", "env", "volume_mount_path", "max_cost_per_hour", "ready_timeout_s", "running",
                            "network_volume_id"}
    assert reasons["min_cuda_version"] == ("min_cuda_version (the CUDA floor the image's config declares in "
                                           'NVIDIA_REQUIRE_CUDA) must be a CUDA version as major.minor, '
                                           'e.g. "12.9"')
    assert reasons["gpu_type_ids"].startswith("gpu_type_ids (autoglm-runpod:gpuTypes) must list")
    assert reasons["cloud"] == "cloud (autoglm-runpod:cloud) must be SECURE or COMMUNITY"
    assert reasons["max_cost_per_hour"].startswith("max_cost_per_hour (autoglm-runpod:maxCostPerHour) must")
    assert reasons["ready_timeout_s"].startswith("ready_timeout_s (autoglm-runpod:healthTimeoutMinutes × 60) must")
    assert reasons["container_disk_gb"].startswith("container_disk_gb (autoglm-runpod:containerDiskGb) must")
    assert reasons["running"] == "running (autoglm-runpod:running) must be true or false"
    assert reasons["ports"].startswith("ports has '8000': each port must be \"port/http\"")  # no setting
    assert all(reason.startswith(prop) for prop, reason in failures)
    assert all(SETTINGS[prop] in reason for prop, reason in failures if prop in SETTINGS)


def test_check_names_the_setting_of_a_missing_required_property(host: Host) -> None:
    _, failures = host.check({"name": NAME, "gpu_type_ids": [L40S], "min_cuda_version": "12.9"})
    assert failures == [("image", "image (autoglm-runpod:image, imageRepository or promoteFrom) is required")]


def test_check_rejects_a_network_volume_on_community_cloud(host: Host) -> None:
    _, failures = host.check(pod_props(cloud="COMMUNITY", network_volume_id="vol_1"))
    assert failures == [("network_volume_id", "network_volume_id (autoglm-runpod:networkVolumeId) needs cloud "
                                               "(autoglm-runpod:cloud) SECURE: RunPod network volumes exist only "
                                               "in Secure Cloud")]


def test_check_tolerates_unknowns_during_preview(fake: FakeRunPod, host: Host) -> None:
    _, failures = host.check(pod_props(image=rpc.UNKNOWN, env={"HF_TOKEN": rpc.UNKNOWN}, gpu_type_ids=rpc.UNKNOWN))
    assert failures == []
    assert fake.requests_log == []


# ---- create ---------------------------------------------------------------------------------------------


def test_create_places_the_pod_with_the_cuda_floor_and_waits_for_running(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    assert (outs["pod_id"], outs["status"], outs["gpu_type_id"], outs["cuda_version"]) == (
        pod_id, "RUNNING", L40S, "12.9")
    assert outs["cost_per_hr"] == pytest.approx(0.86)
    assert outs["endpoint_url"] == f"https://{pod_id}-8000.proxy.runpod.net"
    assert outs["data_center_id"] == "US-TX-3" and outs["env"]["HF_TOKEN"] == HF_TOKEN
    sent = fake.calls("POST", "/v2/pods")[0].body
    assert sent["gpu"] == {"id": L40S, "count": 1, "minCudaVersion": "12.9"}
    assert [p.id for p in fake.billing_pods()] == [pod_id]
    assert f"{pod_id}: RUNNING after" in host.stderr()


def test_create_falls_back_to_the_next_gpu_type(fake: FakeRunPod, host: Host) -> None:
    fake.set_free_gpus(L40S, 0)
    _, outs = create(host)
    assert outs["gpu_type_id"] == H100
    assert f"{L40S} refused ({NO_INSTANCES})" in host.stderr()


def test_no_capacity_anywhere_lists_each_type_and_what_to_try(fake: FakeRunPod, host: Host) -> None:
    fake.set_free_gpus(L40S, 0)
    fake.set_free_gpus(H100, 0)
    fake.forbidden_gpu_types.add("NVIDIA RTX 6000 Ada Generation")
    with pytest.raises(HostError) as caught:
        create(host, gpu_type_ids=[L40S, H100, "NVIDIA RTX 6000 Ada Generation"])
    message = caught.value.message
    no_instances = NO_INSTANCES.rstrip(".")
    assert message.startswith("components.providers.pod_rules.PodError: no GPU type in gpu_type_ids "
                              "(autoglm-runpod:gpuTypes) could be placed")
    assert (f"{L40S}: {no_instances}; {H100}: {no_instances}; NVIDIA RTX 6000 Ada Generation: access denied. "
            in message)
    assert (f"add to autoglm-runpod:gpuTypes GPU types RunPod has free now at CUDA ≥ 12.9: {A40} (48 GB, HIGH)"
            in message)
    assert "; set autoglm-runpod:cloud to COMMUNITY; retry later" in message
    assert fake.live_pods() == []


def test_rate_limits_are_waited_out(fake: FakeRunPod, host: Host) -> None:
    fake.inject("POST", "/v2/pods", 429, retry_after=1)
    fake.inject("GET", "/v2/pods/.+", 429, retry_after=1)
    _, outs = create(host)
    assert outs["status"] == "RUNNING"
    assert [r.status for r in fake.calls("POST", "/v2/pods")] == [429, 201]
    assert len(fake.live_pods()) == 1


def test_5xx_and_an_html_502_on_reads_are_ridden_out(fake: FakeRunPod, host: Host) -> None:
    fake.inject("GET", "/v2/pods/.+", 503)
    fake.inject("GET", "/v2/pods/.+", 502, html=True)
    _, outs = create(host)
    assert outs["status"] == "RUNNING"
    assert {r.status for r in fake.calls("GET", "/v2/pods/.+")} == {502, 503, 200}


def test_a_lost_create_response_ends_with_exactly_one_pod(fake: FakeRunPod, host: Host) -> None:
    fake.lose_next_create()
    pod_id, _ = create(host)
    assert [p.id for p in fake.live_pods()] == [pod_id]
    assert len(fake.calls("POST", "/v2/pods")) == 1
    assert "made pod" in host.stderr() and "adopting it" in host.stderr()


def test_a_create_that_times_out_after_runpod_made_the_pod_is_adopted(fake: FakeRunPod) -> None:
    fake.inject("POST", "/v2/pods", None, delay_s=1.0, after_apply=True)
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake, RUNPOD_READ_TIMEOUT_S="0.3")) as host:
        pod_id, _ = create(host)
    assert [p.id for p in fake.live_pods()] == [pod_id]
    assert list(fake.pods) == [pod_id]  # one create reached RunPod, ever


def test_a_namesake_pod_from_before_is_never_adopted(fake: FakeRunPod, host: Host) -> None:
    """A replacement is created while its predecessor (same name) still runs."""
    old = fake.add_pod(NAME)
    fake.lose_next_create()
    pod_id, _ = create(host)
    assert pod_id != old.id
    assert {p.id for p in fake.pods_named(NAME)} == {old.id, pod_id}


def test_creates_that_time_out_and_land_late_do_not_leave_pods_billing(fake: FakeRunPod) -> None:
    """RunPod finishes each create after the client gave up (a slow placement, or a proxy 524 while the origin
    carries on): the first pod to land is adopted, and the others are ended as they land."""
    fake.inject("POST", "/v2/pods", None, delay_s=2.0, times=3)  # each pod is made 2 s after its request
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake, RUNPOD_READ_TIMEOUT_S="0.3")) as host:
        pod_id, outs = create(host)
        stderr = host.stderr()
    assert outs["status"] == "RUNNING"
    assert len(fake.calls("POST", "/v2/pods")) == 3 and len(fake.pods) == 3  # every create landed...
    time.sleep(0.3)
    assert [p.id for p in fake.live_pods()] == [pod_id]  # ...and only the adopted one is left
    assert "looking up to 120 s for a pod RunPod made anyway" in stderr
    assert f"made pod {pod_id}; adopting it" in stderr and stderr.count("as well; ending it") == 2


def test_a_lost_create_is_not_leaked_when_the_lookup_fails_too(fake: FakeRunPod) -> None:
    """The create answers 500 after making the pod and the list endpoint then fails for a while: no second
    create is sent blind, and the pod is adopted once the list answers again."""
    fake.inject("GET", "/v2/pods", None)  # the namesake lookup before the create answers normally
    fake.lose_next_create()
    fake.inject("GET", "/v2/pods", 503, times=50)  # then the list endpoint is down for a while
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake)) as host:
        pod_id, _ = create(host)
        stderr = host.stderr()
    assert [p.id for p in fake.live_pods()] == [pod_id]
    assert len(fake.calls("POST", "/v2/pods")) == 1
    assert "could not look for pods the failed create(s) may have made" in stderr and "adopting it" in stderr


def in_process(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch) -> PodProvider:
    """The provider called directly (to shorten its module-level deadlines), with the host's env."""
    for name, value in host_env(fake).items():
        monkeypatch.setenv(name, value)
    return PodProvider()


STACK_POD = pod_name("dev", STACK_POD_RESOURCE)


def test_creates_that_fail_and_make_nothing_do_not_claim_nothing_bills(fake: FakeRunPod,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_LANDING_GRACE_S", "0.3")
    provider = in_process(fake, monkeypatch)
    monkeypatch.setenv("RUNPOD_READ_TIMEOUT_S", "0.2")  # the grace is at least the create's read timeout
    fake.inject("POST", "/v2/pods", 500, times=3)
    with pytest.raises(PodError) as caught:
        provider.create(pod_props(name=STACK_POD))
    message = str(caught.value)
    assert "nothing bills" not in message
    assert message.startswith(f"RunPod failed 3 create(s) of pod {STACK_POD!r} on {L40S}")
    assert f"no pod named {STACK_POD!r} appeared within 0.3 s of the last one" in message
    assert "`python -m components.pods sweep --stack dev` lists them" in message
    assert fake.live_pods() == [] and len(fake.calls("POST", "/v2/pods")) == 3


def test_a_lookup_down_for_the_whole_grace_window_is_reported_not_ignored(fake: FakeRunPod,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_LANDING_GRACE_S", "0.3")
    provider = in_process(fake, monkeypatch)
    monkeypatch.setenv("RUNPOD_READ_TIMEOUT_S", "0.2")
    fake.inject("GET", "/v2/pods", None)
    fake.lose_next_create()
    fake.inject("GET", "/v2/pods", 503, times=10**6)
    with pytest.raises(PodError) as caught:
        provider.create(pod_props(name=STACK_POD))
    message = str(caught.value)
    assert "whether RunPod made a pod anyway is unknown, because listing pods failed too" in message
    assert f"A pod named {STACK_POD!r} may bill outside this stack" in message
    assert "python -m components.pods sweep --stack dev" in message and "nothing bills" not in message
    assert len(fake.calls("POST", "/v2/pods")) == 1  # no blind second create


def test_a_failed_create_after_an_unanswered_one_says_a_pod_may_still_land(fake: FakeRunPod,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_LANDING_GRACE_S", "0.3")
    provider = in_process(fake, monkeypatch)
    monkeypatch.setenv("RUNPOD_READ_TIMEOUT_S", "0.2")
    fake.inject("POST", "/v2/pods", 500)  # no pod made, but the provider cannot know that
    unpriced(fake)  # so the budget cannot refuse before the create: the billed cost is the guard
    with pytest.raises(PodError) as caught:
        provider.create(pod_props(name=STACK_POD, max_cost_per_hour=0.5))  # the second create's pod is refused
    message = str(caught.value)
    [made] = fake.pods
    assert f"Pod {made} was terminated, so it does not bill. 1 create(s) RunPod never answered may still " in message
    assert "`python -m components.pods sweep --stack dev` lists them" in message
    assert fake.billing_pods() == []


def test_a_cuda_mismatch_is_diagnosed_and_the_pod_terminated(fake: FakeRunPod, host: Host) -> None:
    with pytest.raises(HostError) as caught:
        create(host, min_cuda_version="12.8")  # too low a floor: RunPod offers the 12.8 host first
    message = caught.value.message
    assert "turned ERROR" in message
    assert "the host's NVIDIA driver is too old for the image" in message
    assert "cuda>=12.9" in message
    assert ("The pod requested CUDA ≥ 12.8 (min_cuda_version (the CUDA floor the image's config declares in "
            "NVIDIA_REQUIRE_CUDA)), read from the image's config before the pod was created, so the image RunPod "
            "pulled is not the one that was read (a tag that moved?): pin autoglm-runpod:image by digest") in message
    assert "vllmVersion" not in message, "the floor comes from the image, not from the release table"
    assert "was terminated, so it does not bill" in message
    assert fake.billing_pods() == []
    assert fake.calls("GET", r"/v2/pods/.+/logs")[0].query["source"] == ["system"]


def test_a_pod_stuck_starting_past_the_deadline_is_terminated(fake: FakeRunPod, host: Host) -> None:
    fake.next_pods("stuck_starting")
    with pytest.raises(HostError) as caught:
        create(host, ready_timeout_s=1)
    assert ("was still STARTING after 1 s (ready_timeout_s (autoglm-runpod:healthTimeoutMinutes × 60): raise it "
            "if the pod is only slow to start)") in caught.value.message
    assert "was terminated" in caught.value.message
    assert fake.billing_pods() == []
    assert "STARTING for" in host.stderr()  # progress was printed while waiting


def unpriced(fake: FakeRunPod) -> None:
    """A key that may not read RunPod's catalog: the budget cannot be checked before a create (the listed types are
    tried unpriced), so the cost RunPod bills once the pod is placed is the last guard."""
    fake.inject("GET", "/v2/catalog/gpus", 403, times=5, detail="this key may not read the GPU catalog")


def test_a_pod_above_the_cost_cap_is_terminated(fake: FakeRunPod, host: Host) -> None:
    unpriced(fake)
    with pytest.raises(HostError) as caught:
        create(host, max_cost_per_hour=0.5)
    assert ("costs $0.86/h, above max_cost_per_hour (autoglm-runpod:maxCostPerHour) $0.50: list cheaper GPU types "
            "first in autoglm-runpod:gpuTypes, or raise autoglm-runpod:maxCostPerHour.") in caught.value.message
    assert fake.billing_pods() == []


def test_create_with_running_false_leaves_a_stopped_pod(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host, running=False)
    assert (outs["status"], outs["cost_per_hr"]) == ("EXITED", 0)
    assert fake.billing_pods() == [] and fake.status_of(pod_id) == "EXITED"


# ---- read / diff / update / delete ------------------------------------------------------------------------


def test_refresh_reports_live_state(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    read_id, fresh = host.read(pod_id, outs)
    assert read_id == pod_id
    assert (fresh["status"], fresh["gpu_type_id"], fresh["env"]) == ("RUNNING", L40S, outs["env"])


@pytest.mark.parametrize("forget", [True, False], ids=["404", "TERMINATED"])
def test_refresh_after_the_pod_was_deleted_elsewhere_drops_it(forget: bool) -> None:
    with FakeRunPod(api_key=KEY, timings=Timings(0.01, 0.01), forget_terminated=forget) as fake, \
            provider_host(PodProvider(), POD_TYPE, env=host_env(fake)) as host:
        pod_id, outs = create(host)
        fake.terminate_out_of_band(pod_id)
        read_id, fresh = host.read(pod_id, outs)
    assert read_id == ""
    assert set(fresh) <= {"__provider"}


def test_delete_twice_is_fine(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    host.delete(pod_id, outs)
    assert fake.live_pods() == []
    host.delete(pod_id, outs)
    assert host.logged("was already gone")


def diff_of(host: Host, outs: dict[str, Any], **news: Any) -> tuple[int, list[str]]:
    inputs = {k: v for k, v in outs.items() if k in pod_props() or k in news}
    response = host.diff(outs["pod_id"], outs, {**inputs, **news})
    return response.changes, sorted(response.replaces)


def test_diff_replaces_only_for_what_needs_another_pod(host: Host) -> None:
    _, outs = create(host)
    some, none = provider_pb2.DiffResponse.DIFF_SOME, provider_pb2.DiffResponse.DIFF_NONE
    assert diff_of(host, outs) == (none, [])  # only the pickled provider differs
    assert diff_of(host, outs, image=IMAGE + "5") == (some, ["image"])
    assert diff_of(host, outs, gpu_count=2) == (some, ["gpu_count"])
    assert diff_of(host, outs, container_disk_gb=100, cloud="COMMUNITY") == (some, ["cloud", "container_disk_gb"])
    assert diff_of(host, outs, network_volume_id="vol_1") == (some, ["network_volume_id"])
    assert diff_of(host, outs, env={"HF_TOKEN": "new"}, args="--x", ports=["8000/http", "22/tcp"]) == (some, [])
    assert diff_of(host, outs, gpu_type_ids=[H100, L40S]) == (some, [])  # the pod's type is still allowed
    assert diff_of(host, outs, gpu_type_ids=[H100]) == (some, ["gpu_type_ids"])
    assert diff_of(host, outs, min_cuda_version="12.4") == (some, [])  # the host still meets the floor
    assert diff_of(host, outs, min_cuda_version="13.0") == (some, ["min_cuda_version"])
    assert diff_of(host, outs, image=rpc.UNKNOWN) == (some, ["image"])


def test_an_image_runpod_spells_otherwise_is_no_change_and_a_state_holding_its_spelling_heals(host: Host) -> None:
    digest, other = "sha256:" + "d" * 64, "sha256:" + "e" * 64
    declared = f"vllm/vllm-openai:v0.12.0@{digest}"
    _, outs = create(host, image=declared)
    none, some = provider_pb2.DiffResponse.DIFF_NONE, provider_pb2.DiffResponse.DIFF_SOME
    healed = {**outs, "image": f"docker.io/vllm/vllm-openai@{digest}"}  # what a refresh used to record
    assert diff_of(host, healed, image=declared) == (none, [])
    assert diff_of(host, healed, image=f"vllm/vllm-openai@{other}") == (some, ["image"])


def test_update_patches_env_in_place_and_waits_for_running(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    news = {**{k: outs[k] for k in pod_props()}, "env": {"HF_TOKEN": "hf_rotated"}, "args": "--max-model-len 4096"}
    updated = host.update(pod_id, outs, news)
    patch = fake.calls("PATCH", f"/v2/pods/{pod_id}")[-1].body  # the first one named the created pod
    assert patch == {"env": {"HF_TOKEN": "hf_rotated"}, "args": "--max-model-len 4096"}
    assert (updated["pod_id"], updated["status"], updated["env"]) == (pod_id, "RUNNING", {"HF_TOKEN": "hf_rotated"})
    assert "RUNNING after" in host.stderr().split("updating args, env in place")[1]


def test_an_update_to_a_budget_below_the_pod_says_it_still_runs_and_how_to_move_it(fake: FakeRunPod,
                                                                                  host: Host) -> None:
    pod_id, outs = create(host)
    with pytest.raises(HostError) as caught:
        host.update(pod_id, outs, declared(outs, max_cost_per_hour=0.5))
    assert "costs $0.86/h, above max_cost_per_hour (autoglm-runpod:maxCostPerHour) $0.50" in caught.value.message
    assert (f"Pod {pod_id} is still running ($0.86/h) and stays the stack's pod; after changing the settings, "
            "`pulumi up --replace <the pod's URN>` places a new one.") in caught.value.message
    assert [p.id for p in fake.billing_pods()] == [pod_id]


# ---- stop and start (issue 8) ----------------------------------------------------------------------------


def wait_until(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def declared(outs: dict[str, Any], **over: Any) -> dict[str, Any]:
    """What the program declares next: the current inputs, changed by `over`."""
    return {**{k: outs[k] for k in pod_props()}, **over}


def test_running_false_stops_in_place_and_true_starts_the_same_pod(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    assert diff_of(host, outs, running=False) == (provider_pb2.DiffResponse.DIFF_SOME, [])
    stopped = host.update(pod_id, outs, declared(outs, running=False))
    assert (stopped["pod_id"], stopped["status"], stopped["cost_per_hr"], stopped["running"]) == (
        pod_id, "EXITED", 0, False)
    assert stopped["endpoint_url"] == outs["endpoint_url"]  # the URL stays known
    assert fake.billing_pods() == []
    assert diff_of(host, stopped, running=True) == (provider_pb2.DiffResponse.DIFF_SOME, [])
    started = host.update(pod_id, stopped, declared(stopped, running=True))
    assert (started["pod_id"], started["status"], started["cuda_version"]) == (pod_id, "RUNNING", "12.9")
    assert [c.body for c in fake.calls("POST", f"/v2/pods/{pod_id}/action")] == [{"action": "stop"},
                                                                               {"action": "start"}]
    assert [p.id for p in fake.live_pods()] == [pod_id]


def test_a_start_refused_for_lack_of_gpus_on_the_host_says_the_two_ways_out(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    stopped = host.update(pod_id, outs, declared(outs, running=False))
    fake.fill_host(pod_id)
    with pytest.raises(HostError) as caught:
        host.update(pod_id, stopped, declared(stopped, running=True))
    message = caught.value.message
    assert f'RunPod refused to start pod {pod_id}: "{NO_FREE_GPUS}"' in message
    assert "retry later (`pulumi up`)" in message and "`pulumi up --replace <the pod's URN>`" in message
    assert "`pulumi config set autoglm-runpod:running false`" in message
    assert fake.status_of(pod_id) == "EXITED"


def test_a_redundant_stop_answered_409_is_not_an_error(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    fake.inject("POST", "/v2/pods/.+/action", 409, after_apply=True,
                detail="action 'stop' is not valid for a pod in status EXITED")  # stopped meanwhile
    stopped = host.update(pod_id, outs, declared(outs, running=False))
    assert stopped["status"] == "EXITED"
    assert [c.status for c in fake.calls("POST", "/v2/pods/.+/action")] == [409]


def test_a_redundant_start_answered_409_is_not_an_error(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host, running=False)
    fake.inject("POST", "/v2/pods/.+/action", 409, after_apply=True,
                detail="action 'start' is not valid for a pod in status STARTING")  # started meanwhile
    started = host.update(pod_id, outs, declared(outs, running=True))
    assert started["status"] == "RUNNING"


def test_refresh_records_a_stop_made_in_the_console_and_up_starts_it_again(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    fake.stop_out_of_band(pod_id)
    _, fresh = host.read(pod_id, outs)
    assert (fresh["status"], fresh["running"], fresh["cost_per_hr"]) == ("EXITED", False, 0)
    assert diff_of(host, fresh, running=True) == (provider_pb2.DiffResponse.DIFF_SOME, [])
    assert host.update(pod_id, fresh, declared(fresh, running=True))["status"] == "RUNNING"


def test_running_false_on_an_errored_pod_does_not_report_it_stopped_while_it_bills(fake: FakeRunPod,
                                                                                  host: Host) -> None:
    pod_id, outs = create(host)
    # The pod's container dies for good (RunPod: ERROR, which allows only start/terminate, and bills).
    fake.pods[pod_id].fate = "error"
    fake.stop_out_of_band(pod_id)
    RunPodClient(KEY, fake.base_url).pods.action(pod_id, "start")
    wait_until(lambda: fake.status_of(pod_id) == "ERROR")
    with pytest.raises(HostError) as caught:
        host.update(pod_id, outs, declared(outs, running=False, env={"HF_TOKEN": "hf_new"}))
    message = caught.value.message
    assert f"pod {pod_id} ({NAME}) is in ERROR" in message and "bills $0.86/h" in message
    assert "running (autoglm-runpod:running) false cannot end the billing" in message
    assert "`pulumi up --replace <the pod's URN>`" in message and "`pulumi destroy`" in message
    renames = [c for c in fake.calls("PATCH") if c.body == {"name": NAME}]  # the create's
    assert fake.calls("PATCH") == renames and fake.calls("POST", "/v2/pods/.+/action")[-1].body == {"action": "start"}
    assert [p.id for p in fake.billing_pods()] == [pod_id]  # still billing, and the error said so


def test_refresh_of_an_errored_pod_keeps_it_running_and_up_acts_on_it(fake: FakeRunPod, host: Host) -> None:
    pod_id, outs = create(host)
    fake.pods[pod_id].fate = "error"
    fake.stop_out_of_band(pod_id)
    RunPodClient(KEY, fake.base_url).pods.action(pod_id, "start")
    wait_until(lambda: fake.status_of(pod_id) == "ERROR")
    _, fresh = host.read(pod_id, outs)
    assert (fresh["status"], fresh["running"], fresh["cost_per_hr"]) == ("ERROR", True, pytest.approx(0.86))
    assert f"pod {pod_id} ({NAME}) is in ERROR" in host.stderr()
    assert diff_of(host, fresh) == (provider_pb2.DiffResponse.DIFF_SOME, [])  # not "unchanged"
    assert diff_of(host, fresh, running=False) == (provider_pb2.DiffResponse.DIFF_SOME, [])
    with pytest.raises(HostError) as caught:  # up starts it again; it fails again and says why
        host.update(pod_id, fresh, declared(fresh))
    assert "turned ERROR" in caught.value.message and "container exited with code 1" in caught.value.message


def test_a_stop_that_never_completes_is_not_reported_as_done(fake: FakeRunPod,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_STOP_TIMEOUT_S", "0.5")
    provider = in_process(fake, monkeypatch)
    created = provider.create(pod_props(name=STACK_POD))
    fake.inject("POST", "/v2/pods/.+/action", 409, detail="pod is busy", times=10**6)  # RunPod never stops it
    with pytest.raises(PodError) as caught:
        provider.update(created.id, created.outs or {}, {**pod_props(name=STACK_POD), "running": False})
    message = str(caught.value)
    assert message.startswith(f"RunPod did not stop pod {created.id} within 0.5 s: it is RUNNING and bills $0.86/h")
    assert "autoglm-runpod:running is false" in message and "sweep --stack dev" in message
    assert fake.status_of(created.id) == "RUNNING"


def test_a_stop_refused_once_is_asked_again(fake: FakeRunPod, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = in_process(fake, monkeypatch)
    created = provider.create(pod_props())
    fake.inject("POST", "/v2/pods/.+/action", 409, detail="pod is busy")
    result = provider.update(created.id, created.outs or {}, {**pod_props(), "running": False})
    assert (result.outs or {})["status"] == "EXITED" and fake.status_of(created.id) == "EXITED"
    assert [c.status for c in fake.calls("POST", "/v2/pods/.+/action")] == [409, 200]


# ---- credentials ----------------------------------------------------------------------------------------


def test_the_api_key_appears_in_no_output_log_or_error(fake: FakeRunPod) -> None:
    config = {"autoglm-runpod:runpodApiKey": KEY, "autoglm-runpod:runpodApiUrl": fake.base_url}
    seen: list[str] = []
    with provider_host(PodProvider(), POD_TYPE, config=config,
                       env={"RUNPOD_API_KEY": "", "RUNPOD_API_URL": "", "RUNPOD_POLL_INTERVAL_S": "0.02"}) as host:
        pod_id, outs = create(host)  # the key came from stack config alone
        seen += [repr(outs), repr(host.read(pod_id, outs))]
        for bad in ({"min_cuda_version": "12.8"}, {"max_cost_per_hour": 0.1}):
            with pytest.raises(HostError) as caught:
                create(host, **bad)
            seen.append(caught.value.details)
        host.delete(pod_id, outs)
        seen.append(host.stderr())
    with provider_host(PodProvider(), POD_TYPE, config={"autoglm-runpod:runpodApiKey": KEY + "-wrong"},
                       env=host_env(fake, RUNPOD_API_KEY="")) as host, pytest.raises(HostError) as caught:
        create(host)
    assert "401 Unauthorized: invalid bearer token" in caught.value.message
    seen += [caught.value.details, host.stderr()]
    assert all(KEY not in text for text in seen)


def test_a_missing_key_fails_at_the_first_api_call_not_at_check(fake: FakeRunPod) -> None:
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake, RUNPOD_API_KEY="")) as host:
        inputs, failures = host.check(pod_props())
        assert failures == []
        with pytest.raises(HostError, match="no RunPod API key"):
            host.create(inputs)
    assert fake.requests_log == []


def test_the_pod_provider_does_not_put_a_crlf_key_in_its_error(fake: FakeRunPod) -> None:
    with provider_host(PodProvider(), POD_TYPE, env=host_env(fake, RUNPOD_API_KEY=KEY + "\n")) as host:
        inputs, failures = host.check(pod_props())
        assert failures == []
        with pytest.raises(HostError) as caught:
            host.create(inputs)
        seen = caught.value.details + host.stderr()
    assert KEY not in seen
    assert "(RUNPOD_API_KEY or autoglm-runpod:runpodApiKey) has a line feed" in caught.value.message
    assert fake.requests_log == []


def test_the_key_is_never_sent_over_plain_http_to_a_remote_runpod_url(fake: FakeRunPod) -> None:
    config = {"autoglm-runpod:runpodApiKey": KEY, "autoglm-runpod:runpodApiUrl": "http://api.runpod.io"}
    with provider_host(PodProvider(), POD_TYPE, config=config, env=host_env(fake)) as host, \
            pytest.raises(HostError) as caught:
        create(host)
    assert ("the RunPod API URL (RUNPOD_API_URL or autoglm-runpod:runpodApiUrl) is http://api.runpod.io: plain "
            "http would send the RunPod API key unencrypted") in caught.value.message
    assert KEY not in caught.value.details


# ---- messages and reprs -----------------------------------------------------------------------------------


def test_a_disk_full_or_a_failed_pull_names_the_setting_to_change() -> None:
    pod = PodInfo(id="p1", name=NAME, status="ERROR", image=IMAGE)
    assert explain(["write /root/.cache: no space left on device"], pod) == (
        "the container disk filled up: raise container_disk_gb (autoglm-runpod:containerDiskGb)")
    assert explain(["pull access denied for acme/autoglm-vllm"], pod) == (
        f"RunPod could not pull {IMAGE}: check the image reference (autoglm-runpod:image, imageRepository or "
        "promoteFrom) and, for a private registry, registry_auth_id (autoglm-runpod:registryAuthId)")


def test_a_cuda_gate_on_a_host_below_the_requested_floor_blames_the_placement() -> None:
    pod = PodInfo(id="p1", name=NAME, status="ERROR", image=IMAGE, cuda_version="12.8")
    gate = ["nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.9, please update your driver"]
    cause = explain(gate, pod, "12.9")
    assert cause.endswith("The pod requested CUDA ≥ 12.9 (min_cuda_version (the CUDA floor the image's config "
                          "declares in NVIDIA_REQUIRE_CUDA)), so RunPod placed it below the floor it was asked for: "
                          "run `pulumi up` again")
    assert "but the host reports 12.8" in cause and "vllmVersion" not in cause


def test_reprs_of_checked_inputs_hide_the_secrets() -> None:
    spec = POD_INPUTS.parse(pod_props())
    assert HF_TOKEN not in repr(spec) and "vk-123" not in repr(spec)
    assert spec.env["HF_TOKEN"] == HF_TOKEN  # hidden from reprs only


# ---- the resource under Pulumi mocks ------------------------------------------------------------------------


def test_pod_name_is_deterministic_and_within_runpods_limit() -> None:
    assert pod_name("dev", "svc-pod") == "autoglm-runpod-dev-svc-pod"
    long = pod_name("dev", "x" * 300)
    assert len(long) == 191 and long == pod_name("dev", "x" * 300) and long != pod_name("dev", "x" * 301)


def test_a_provisional_name_is_within_runpods_limit_and_never_a_final_name() -> None:
    assert provisional_name("autoglm-runpod-dev-autoglm-pod") == "autoglm-runpod-dev-autoglm-pod-creating"
    assert stack_of("autoglm-runpod-dev-autoglm-pod-creating") == stack_of("autoglm-runpod-dev-autoglm-pod") == "dev"
    long = pod_name("s" * 200, STACK_POD_RESOURCE)
    creating = provisional_name(long)
    assert len(creating) == 191 and creating.endswith("-creating") and creating != provisional_name(long + "x")
    assert not any(pod_name(stack, STACK_POD_RESOURCE) == creating for stack in ("s" * 200, "s" * 190, "dev-creating"))


@pulumi.runtime.test
def test_the_pod_resource_registers_every_input_and_keeps_env_secret(pulumi_mocks: RecordingMocks) -> Any:
    pod = Pod("svc-pod", PodArgs(name=NAME, image=IMAGE, gpu_type_ids=[L40S], min_cuda_version="12.9",
                                 env={"HF_TOKEN": pulumi.Output.secret(HF_TOKEN)}, running=False))

    def check(_: Any) -> None:
        [registered] = pulumi_mocks.of_type(POD_TYPE)
        inputs = registered.inputs
        assert rpc.is_rpc_secret(inputs["env"])
        assert (inputs["gpu_type_ids"], inputs["ports"], inputs["running"]) == ([L40S], ["8000/http"], False)
        assert "args" not in inputs  # unset optional inputs are left out

    return pod.urn.apply(check)
