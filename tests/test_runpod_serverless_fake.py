"""The fake's `/v2/serverless`: answers that follow the published contract, the cross-field 400s the spec states,
the workers' lifecycle, and the load balancer in front (through the real client and plain HTTP)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from components.runpod import BadRequest, InvalidRequest, NotFound, RunPodClient
from tests.fakes.runpod import FakeHost, FakeRunPod, LoadBalancer
from tests.fakes.runpod.contract import contract_errors
from tests.fakes.vllm import FakeVllm

L40S, ADA6000, H100, A40 = "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA H100 PCIe", "NVIDIA A40"
IMAGE = "ghcr.io/acme/autoglm-vllm@sha256:" + "a" * 64


def body(**over: Any) -> dict[str, Any]:
    return {"name": "autoglm-runpod-dev-autoglm-endpoint", "type": "LOAD_BALANCER", "image": IMAGE,
            "ports": ["8000/http"], "env": {"PORT": "8000", "PORT_HEALTH": "8000", "HEALTH_CHECK_PATH": "/ping"},
            "gpu": {"pools": ["ADA_48_PRO"], "excludedTypes": [ADA6000], "count": 1, "minCudaVersion": "12.9"},
            "workers": {"min": 0, "max": 2, "idleTimeout": 1}, "scaling": {"type": "REQUEST_COUNT", "requestCount": 4},
            "flashboot": "FLASHBOOT", "timeout": 330000, **over}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    hosts = [FakeHost(L40S, "12.8", 8, "EU-RO-1"), FakeHost(L40S, "12.9", 1, "US-TX-3"),
             FakeHost(ADA6000, "12.9", 8, "US-TX-3"), FakeHost(H100, "12.9", 8, "US-TX-3")]
    with FakeRunPod(hosts=hosts, image_cuda={IMAGE: "12.9"}, worker_init_s=0.05) as f:
        yield f


@pytest.fixture
def client(fake: FakeRunPod) -> RunPodClient:
    return RunPodClient(fake.api_key, fake.base_url, backoff_factor_s=0.01)


def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def raw(fake: FakeRunPod, method: str, path: str, json: Any = None) -> requests.Response:
    return requests.request(method, fake.base_url + path, json=json, timeout=5,
                            headers={"Authorization": f"Bearer {fake.api_key}"})


def test_answers_follow_the_published_contract(fake: FakeRunPod, client: RunPodClient) -> None:
    made = raw(fake, "POST", "/v2/serverless", body())
    assert made.status_code == 201 and contract_errors("Endpoint", made.json()) == []
    queue = raw(fake, "POST", "/v2/serverless", body(type="QUEUE", workers={"min": 0, "max": 1}))
    assert queue.status_code == 201 and contract_errors("Endpoint", queue.json()) == []
    assert "idleTimeout" not in queue.json()["workers"], "omitted for a queue endpoint scaling on requestCount"
    assert contract_errors("ListEndpointsResponse", raw(fake, "GET", "/v2/serverless").json()) == []
    endpoint_id = made.json()["id"]
    assert contract_errors("ListEndpointWorkersResponse",
                           raw(fake, "GET", f"/v2/serverless/{endpoint_id}/workers").json()) == []
    info = client.endpoints.get(endpoint_id)
    assert info.base_url == f"https://{endpoint_id}.api.runpod.ai" and info.health_url == info.base_url + "/ping"
    assert (info.pools, info.excluded_types, info.min_cuda_version, info.flashboot) == (
        ("ADA_48_PRO",), (ADA6000,), "12.9", "FLASHBOOT")


@pytest.mark.parametrize(("sent", "error", "says"), [
    (body(gpu=None), InvalidRequest, "gpu"),
    ({k: v for k, v in body().items() if k != "gpu"}, BadRequest, "exactly one of gpu or cpu"),
    (body(gpu={"pools": ["ADA_48_PRO"], "minCudaVersion": "12.9", "allowedCudaVersions": ["12.9"]}), BadRequest,
     "mutually exclusive"),
    (body(gpu={"pools": ["NO_SUCH_POOL"]}), BadRequest, "unknown serverless pool"),
    (body(gpu={"pools": ["ADA_48_PRO"], "excludedTypes": [H100]}), BadRequest, "not a GPU type in the selected"),
    (body(gpu={"pools": ["ADA_48_PRO"], "excludedTypes": [L40S, ADA6000]}), BadRequest, "leaves no GPU type"),
    (body(type="QUEUE"), BadRequest, "idleTimeout does not apply"),
    (body(workers={"min": 3, "max": 2}), BadRequest, "min cannot exceed"),
    (body(scaling={"type": "QUEUE_DELAY", "queueDelay": 4}), InvalidRequest, "scaling"),
    (body(bogus=1), InvalidRequest, "'bogus' not allowed"),
    (body(gpu={"pools": ["ADA_48_PRO"], "minCudaVersion": "12"}), InvalidRequest, "pattern"),
])
def test_bad_creates_answer_as_the_spec_says(client: RunPodClient, sent: dict[str, Any], error: type[Exception],
                                             says: str) -> None:
    with pytest.raises(error, match=says):
        client.endpoints.create(sent)
    assert client.endpoints.list() == []


def test_patch_changes_only_what_it_sends_and_pools_without_exclusions_clear_them(fake: FakeRunPod,
                                                                                  client: RunPodClient) -> None:
    made = client.endpoints.create(body())
    assert client.endpoints.update(made.id, {"workers": {"max": 5}}).workers_max == 5
    updated = client.endpoints.update(made.id, {"gpu": {"pools": ["ADA_48_PRO", "ADA_80_PRO"]}})
    assert (updated.pools, updated.excluded_types, updated.min_cuda_version) == (
        ("ADA_48_PRO", "ADA_80_PRO"), (), "12.9")
    assert client.endpoints.update(made.id, {"gpu": {"minCudaVersion": ""}}).min_cuda_version is None
    with pytest.raises(InvalidRequest, match="pools"):
        client.endpoints.update(made.id, {"gpu": {"excludedTypes": [L40S]}})
    with pytest.raises(InvalidRequest, match="'type' not allowed"):
        client.endpoints.update(made.id, {"type": "QUEUE"})
    with pytest.raises(BadRequest, match="compute family"):
        client.endpoints.update(made.id, {"cpu": [{"id": "cpu3c", "vcpuCount": 2}]})
    assert client.endpoints.update(made.id, {"env": {"A": "1"}}).env == {"A": "1"}
    assert fake.endpoints[made.id].version == 2, "a container change is a new release"


def test_delete_ends_the_workers_and_then_answers_404(fake: FakeRunPod, client: RunPodClient) -> None:
    made = client.endpoints.create(body(workers={"min": 1, "max": 2, "idleTimeout": 1}))
    eventually(lambda: [w.status for w in fake.workers_of(made.id)] == ["IDLE"])
    host = next(h for h in fake.hosts if h.gpu_type_id == L40S and h.cuda_version == "12.9")
    assert host.free_gpus == 0, "the worker holds the GPU of the only 12.9 host (the floor skips 12.8)"
    client.endpoints.delete(made.id)
    assert host.free_gpus == 1
    with pytest.raises(NotFound):
        client.endpoints.delete(made.id)


def test_workers_wait_for_capacity_then_start_and_scale_to_zero(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.set_free_gpus(L40S, 0)
    made = client.endpoints.create(body(workers={"min": 1, "max": 2, "idleTimeout": 1}))
    workers = client.endpoints.workers(made.id)
    assert [w.status for w in workers.workers] == ["THROTTLED"] and workers.count("THROTTLED") == 1
    assert workers.workers[0].gpu_type_id is None, "not placed yet"
    fake.set_free_gpus(L40S, 1)
    eventually(lambda: client.endpoints.workers(made.id).count("IDLE") == 1)
    (worker,) = client.endpoints.workers(made.id).workers
    assert (worker.gpu_type_id, worker.data_center_id) == (L40S, "US-TX-3")
    client.endpoints.update(made.id, {"workers": {"min": 0}})
    eventually(lambda: client.endpoints.workers(made.id).workers == ())
    lines = [e.line for e in client.endpoints.worker_logs(made.id, worker.id, tail=10, idle_s=0.3, max_s=2)]
    assert any("CUDA 12.9" in line for line in lines) and lines[-1].endswith("scaling down")


def test_a_worker_on_a_host_below_the_images_cuda_is_unhealthy_with_the_gate_in_its_log(
        fake: FakeRunPod, client: RunPodClient) -> None:
    made = client.endpoints.create(body(gpu={"pools": ["ADA_48_PRO"]}, workers={"min": 1, "max": 1}))
    eventually(lambda: client.endpoints.workers(made.id).count("UNHEALTHY") == 1)
    (worker,) = client.endpoints.workers(made.id).workers
    lines = [e.line for e in client.endpoints.worker_logs(made.id, worker.id, source="system", idle_s=0.3, max_s=2)]
    assert any("unsatisfied condition: cuda>=12.9" in line for line in lines), "no floor: the 12.8 host first"


def test_runpod_lowering_workers_max_ends_the_workers_above_it(fake: FakeRunPod, client: RunPodClient) -> None:
    made = client.endpoints.create(body(workers={"min": 1, "max": 2, "idleTimeout": 60}))
    eventually(lambda: client.endpoints.workers(made.id).count("IDLE") == 1)
    fake.lower_workers_max(made.id, 0)
    assert client.endpoints.get(made.id).workers_max == 0 and client.endpoints.workers(made.id).workers == ()


# ---- the load balancer ------------------------------------------------------------------------------------------


@pytest.fixture
def front(fake: FakeRunPod) -> Iterator[tuple[LoadBalancer, FakeVllm]]:
    with FakeVllm() as vllm:
        yield fake.balancer(vllm.base_url), vllm


def test_the_balancer_wakes_a_worker_answers_400_meanwhile_then_routes_with_the_key(
        fake: FakeRunPod, client: RunPodClient, front: tuple[LoadBalancer, FakeVllm]) -> None:
    balancer, vllm = front
    made = client.endpoints.create(body())
    url, key = balancer.url(made.id), {"Authorization": f"Bearer {fake.api_key}"}
    assert requests.get(f"{url}/v1/models", timeout=5).status_code == 401, "the RunPod key is the lock"
    first = requests.get(f"{url}/v1/models", headers=key, timeout=5)
    assert (first.status_code, first.json()) == (400, {"error": "no workers available"})
    assert [w.status for w in fake.workers_of(made.id)] in (["INITIALIZING"], ["IDLE"]), "the request woke one"

    def served() -> bool:
        return requests.get(f"{url}/v1/models", headers=key, timeout=5).status_code == 200

    eventually(served)
    answered = requests.get(f"{url}/v1/models", headers=key, timeout=5)
    assert answered.json()["data"][0]["id"] == "autoglm-phone-9b"
    assert answered.headers["X-Runpod-Worker-Id"] == fake.workers_of(made.id)[0].id
    assert vllm.requests_to("/v1/models")[-1].headers["authorization"] == f"Bearer {fake.api_key}"
    assert [r.status for r in balancer.routed(made.id)][:2] == [401, 400]
    eventually(lambda: fake.workers_of(made.id) == [], timeout_s=5)  # idleTimeout 1 s: scaled to zero
    client.endpoints.delete(made.id)
    assert requests.get(f"{url}/ping", headers=key, timeout=5).status_code == 404


def test_a_worker_is_ready_only_once_its_server_answers_the_health_ping(fake: FakeRunPod,
                                                                        client: RunPodClient) -> None:
    with FakeVllm(load_delay_s=0.6) as vllm:
        balancer = fake.balancer(vllm.base_url)
        made = client.endpoints.create(body(workers={"min": 1, "max": 1, "idleTimeout": 60}))
        time.sleep(0.2)
        assert [w.status for w in fake.workers_of(made.id)] == ["INITIALIZING"], "vLLM still loads"
        eventually(lambda: [w.status for w in fake.workers_of(made.id)] == ["IDLE"])
        assert requests.get(f"{balancer.url(made.id)}/ping", timeout=5,
                            headers={"Authorization": f"Bearer {fake.api_key}"}).status_code == 200
