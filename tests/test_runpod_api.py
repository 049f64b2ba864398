"""The REST v2 client against the loopback RunPod fake: bodies, retries, error mapping, SSE bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from components.providers.base import STACK_SOURCES
from components.runpod import (
    Conflict,
    InsecureApiUrl,
    InvalidApiKey,
    InvalidRequest,
    LogLine,
    MissingApiKey,
    NoCapacity,
    NotFound,
    RateLimited,
    RunPodClient,
    ServerError,
    TransportError,
    Unauthorized,
    scrub,
)
from tests.fakes.loopback import serving
from tests.fakes.runpod import NO_FREE_GPUS, NO_INSTANCES, FakeRunPod, Timings

L40S = "NVIDIA L40S"


def pod_body(name: str = "autoglm-runpod-dev-t", **gpu: object) -> dict[str, object]:
    return {"name": name, "image": "vllm/vllm-openai:v0.11.0", "ports": ["8000/http"],
            "gpu": {"id": L40S, "count": 1, **gpu}}


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with FakeRunPod(timings=Timings(0.02, 0.05), sse_keepalive_s=0.05) as f:
        yield f


@pytest.fixture
def client(fake: FakeRunPod) -> RunPodClient:
    return RunPodClient(fake.api_key, fake.base_url, backoff_factor_s=0.01)


def wait_status(client: RunPodClient, pod_id: str, status: str) -> None:
    deadline = time.monotonic() + 5
    while client.pods.get(pod_id).status != status:
        assert time.monotonic() < deadline, f"pod {pod_id} never reached {status}"
        time.sleep(0.02)


def test_pod_lifecycle_round_trip(fake: FakeRunPod, client: RunPodClient) -> None:
    pod = client.pods.create(pod_body(minCudaVersion="12.9"))
    assert (pod.status, pod.gpu_type_id, pod.cuda_version) == ("PROVISIONING", L40S, "12.9")
    wait_status(client, pod.id, "RUNNING")
    assert [p.id for p in client.pods.list()] == [pod.id]
    assert client.pods.get(pod.id).cost_per_hr == pytest.approx(0.86)
    client.pods.terminate(pod.id)
    with pytest.raises(NotFound, match="pod not found"):
        client.pods.get(pod.id)
    assert fake.billing_pods() == []


def test_the_cuda_floor_decides_the_host(client: RunPodClient) -> None:
    assert client.pods.create(pod_body("old")).cuda_version == "12.8"  # first host: the old driver
    assert client.pods.create(pod_body("new", minCudaVersion="12.9")).cuda_version == "12.9"


def test_unknown_field_is_a_422_that_keeps_the_contract_errors_and_is_not_retried(
        fake: FakeRunPod, client: RunPodClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.pods.create({**pod_body(), "bogus": 1})
    assert caught.value.status == 422
    assert "$: additional properties 'bogus' not allowed" in caught.value.errors
    assert len(fake.calls("POST", "/v2/pods")) == 1


def test_patch_and_action_bodies_are_checked_against_the_contract(client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    with pytest.raises(InvalidRequest, match=r"\$: additional properties 'gpu' not allowed"):
        client.pods.update(pod.id, {"gpu": {"id": L40S}})
    with pytest.raises(InvalidRequest, match=r"\$\.action: value must be one of"):
        client.pods.action(pod.id, "reset")


def test_no_capacity_is_its_own_error_with_runpods_detail(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.set_free_gpus(L40S, 0)
    with pytest.raises(NoCapacity) as caught:
        client.pods.create(pod_body())
    assert caught.value.detail == NO_INSTANCES


def test_rate_limit_waits_for_retry_after_then_succeeds(fake: FakeRunPod, client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    fake.inject("GET", "/v2/pods/.+", 429, retry_after=1)
    started = time.monotonic()
    assert client.pods.get(pod.id).id == pod.id
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in fake.calls("GET", "/v2/pods/.+")] == [429, 200]


def test_a_create_is_retried_after_429_because_nothing_was_made(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("POST", "/v2/pods", 429, retry_after=0)
    client.pods.create(pod_body())
    assert [r.status for r in fake.calls("POST", "/v2/pods")] == [429, 201]
    assert len(fake.live_pods()) == 1


def test_a_long_retry_after_is_reported_not_slept(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("GET", "/v2/pods", 429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        client.pods.list()
    assert time.monotonic() - started < 2
    assert caught.value.retry_after_s == 3600
    assert "retry after 3600 s" in str(caught.value)


def test_reads_are_retried_on_5xx(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("GET", "/v2/pods", 503, times=2)
    assert client.pods.list() == []
    assert [r.status for r in fake.calls("GET", "/v2/pods")] == [503, 503, 200]


def test_an_html_502_is_a_server_error_not_a_json_crash(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("GET", "/v2/pods", 502, html=True, times=99)
    with pytest.raises(ServerError) as caught:
        client.pods.list()
    assert caught.value.status == 502
    assert "non-JSON answer (text/html): 502 Bad Gateway 502 Bad Gateway cloudflare" in str(caught.value)
    assert len(fake.calls("GET", "/v2/pods")) == 1 + client.retries


def test_a_create_is_never_retried_on_5xx_even_when_the_pod_was_made(fake: FakeRunPod,
                                                                      client: RunPodClient) -> None:
    fake.lose_next_create()
    with pytest.raises(ServerError):
        client.pods.create(pod_body())
    assert len(fake.calls("POST", "/v2/pods")) == 1
    assert len(fake.pods_named("autoglm-runpod-dev-t")) == 1  # made server-side: the caller must adopt it


def test_a_slow_answer_is_a_transport_error_and_a_create_is_not_resent(fake: FakeRunPod) -> None:
    client = RunPodClient(fake.api_key, fake.base_url, read_timeout_s=0.2, create_read_timeout_s=0.2,
                          backoff_factor_s=0.01)
    fake.inject("POST", "/v2/pods", None, delay_s=0.6)
    with pytest.raises(TransportError, match="no answer"):
        client.pods.create(pod_body())
    time.sleep(0.6)  # the server finishes the slow create after the client gave up
    assert len(fake.calls("POST", "/v2/pods")) == 1
    assert len(fake.live_pods()) == 1
    fake.inject("GET", "/v2/pods", None, delay_s=0.6)
    assert len(client.pods.list()) == 1  # an idempotent read is simply tried again


def test_conflict_on_an_action_the_status_does_not_allow(client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    stopped = client.pods.action(pod.id, "stop")
    assert stopped is not None and stopped.status == "EXITED" and stopped.cost_per_hr == 0
    with pytest.raises(Conflict, match="not valid for a pod in status EXITED"):
        client.pods.action(pod.id, "stop")


def test_start_refused_when_the_host_has_no_free_gpu(fake: FakeRunPod, client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    client.pods.action(pod.id, "stop")
    fake.fill_host(pod.id)
    with pytest.raises(NoCapacity) as caught:
        client.pods.action(pod.id, "start")
    assert caught.value.detail == NO_FREE_GPUS


def test_a_bad_key_is_unauthorized_and_the_key_appears_nowhere(fake: FakeRunPod) -> None:
    secret = "rpa_DO_NOT_LEAK_4f1c9e"
    client = RunPodClient(secret, fake.base_url)
    with pytest.raises(Unauthorized, match="invalid bearer token") as caught:
        client.pods.list()
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in repr(client)
    assert not fake.requests_log[-1].authorized


def test_a_missing_key_fails_before_any_request(fake: FakeRunPod) -> None:
    with pytest.raises(MissingApiKey, match="RUNPOD_API_KEY"):
        RunPodClient(None, fake.base_url).pods.list()
    assert fake.requests_log == []


KEY = "rpa_TOPSECRET_7d1e2f"


def test_a_runpod_key_with_a_trailing_carriage_return_is_not_echoed_by_the_client(fake: FakeRunPod) -> None:
    """`export RUNPOD_API_KEY=$(cat key.txt)` on a CRLF file keeps the `\\r`: requests would refuse the header
    and quote it, key included, as `'Bearer <key>\\r'`. The key is refused before any request instead."""
    with pytest.raises(InvalidApiKey) as caught:
        RunPodClient(KEY + "\r", fake.base_url, sources=STACK_SOURCES).pods.list()
    message = str(caught.value)
    assert KEY not in message and KEY not in repr(caught.value)
    assert "RUNPOD_API_KEY" in message and "autoglm-runpod:runpodApiKey" in message
    assert "a carriage return (\\r) at its end" in message
    assert fake.requests_log == []


@pytest.mark.parametrize(("key", "what"), [
    (KEY + "\n", "a line feed (\\n) at its end"), (" " + KEY, "a space at its start"),
    (KEY[:4] + "\t" + KEY[4:], "a tab at position 5"), (KEY + "\x00", "U+0000 at its end"),
    (KEY[:3] + "é" + KEY[3:], "U+00E9 at position 4"),
])
def test_a_key_with_whitespace_or_a_non_printable_character_is_refused_unseen(key: str, what: str) -> None:
    with pytest.raises(InvalidApiKey) as caught:
        RunPodClient(key, "https://api.runpod.io")
    assert what in str(caught.value)
    assert all(part not in str(caught.value) for part in (KEY, KEY[:4], KEY[4:]) if len(part) > 4)


def test_scrub_hides_the_key_verbatim_escaped_and_stripped() -> None:
    key = KEY + "\r"
    for text in (f"bad header {'Bearer ' + key!r}", f"Bearer {key}", f"{key.encode()!r}", f"token {KEY} and more"):
        assert KEY not in scrub(text, key), text
    assert scrub("nothing secret", key) == "nothing secret" and scrub("x", "") == "x"


@pytest.mark.parametrize("url", ["http://api.runpod.io", "http://10.0.0.5:8080", "HTTP://api.runpod.io/",
                                 "ftp://api.runpod.io", "api.runpod.io", "https://"])
def test_the_key_is_never_sent_over_plain_http_to_another_machine(url: str) -> None:
    with pytest.raises(InsecureApiUrl) as caught:
        RunPodClient(KEY, url, sources=STACK_SOURCES)
    message = str(caught.value)
    assert "RUNPOD_API_URL" in message and "autoglm-runpod:runpodApiUrl" in message
    assert KEY not in message
    with pytest.raises(InsecureApiUrl):
        RunPodClient.from_env({"RUNPOD_API_KEY": KEY, "RUNPOD_API_URL": url})


@pytest.mark.parametrize("url", ["https://api.runpod.io", "http://127.0.0.1:8080", "http://127.4.5.6",
                                 "http://localhost:9000/", "http://[::1]:8080"])
def test_https_or_plain_http_to_this_machine_is_allowed(url: str) -> None:
    assert RunPodClient(KEY, url).base_url == url.rstrip("/")


def test_a_client_without_retries_asks_once(fake: FakeRunPod, client: RunPodClient) -> None:
    fake.inject("GET", "/v2/pods", 503, times=5)
    with pytest.raises(ServerError):
        client.without_retries().pods.list()
    assert len(fake.calls("GET", "/v2/pods")) == 1
    assert client.pods.list() == []  # the original still retries
    assert client.retries > 0


def test_from_env_reads_key_url_and_timeout(fake: FakeRunPod) -> None:
    client = RunPodClient.from_env({"RUNPOD_API_KEY": fake.api_key, "RUNPOD_API_URL": fake.base_url + "/",
                                    "RUNPOD_READ_TIMEOUT_S": "7"})
    assert (client.base_url, client.read_timeout_s, client.create_read_timeout_s) == (fake.base_url, 7, 7)
    assert client.pods.list() == []
    assert RunPodClient.from_env({}).base_url == "https://api.runpod.io"


def test_catalog_reports_availability_per_cuda_version(fake: FakeRunPod, client: RunPodClient) -> None:
    gpus = {g["id"]: g for g in client.catalog.gpus(min_cuda_version="12.9")}
    assert gpus[L40S]["cudaVersions"] == [{"version": "12.9", "available": True}]
    fake.set_free_gpus(L40S, 0)
    assert {g["id"]: g for g in client.catalog.gpus()}[L40S]["availability"] == "NONE"


def test_logs_stop_after_tail_lines_although_the_stream_stays_open(client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    wait_status(client, pod.id, "RUNNING")
    started = time.monotonic()
    lines = list(client.pods.logs(pod.id, source="system", tail=2, idle_s=30))
    assert time.monotonic() - started < 5
    assert [line.line for line in lines] == ["Pulling image vllm/vllm-openai:v0.11.0", "Container started"]


def test_logs_stop_when_idle_despite_keep_alive_comments(client: RunPodClient) -> None:
    pod = client.pods.create(pod_body())
    wait_status(client, pod.id, "RUNNING")
    started = time.monotonic()
    lines = list(client.pods.logs(pod.id, tail=100, idle_s=0.3, max_s=20))
    assert time.monotonic() - started < 3  # keep-alives arrive every 0.05 s, yet the read ends
    assert {line.source for line in lines} == {"system", "container"}


def test_follow_sees_live_lines_and_resumes_where_a_dropped_stream_ended() -> None:
    with FakeRunPod(timings=Timings(0.01, 0.01), sse_keepalive_s=0.05, sse_max_s=0.4) as fake:
        client = RunPodClient(fake.api_key, fake.base_url)
        pod = client.pods.create(pod_body())
        wait_status(client, pod.id, "RUNNING")
        seen: list[LogLine] = []
        reader = threading.Thread(target=lambda: seen.extend(
            client.pods.logs(pod.id, source="container", tail=0, follow=True, idle_s=0.3, max_s=1.5)))
        reader.start()
        deadline = time.monotonic() + 10
        while not fake.calls("GET", f"/v2/pods/{pod.id}/logs"):  # connected: a line now is a live one
            assert time.monotonic() < deadline
            time.sleep(0.01)
        fake.append_log(pod.id, "container", "first live line")
        time.sleep(0.6)  # the server ends each stream after 0.4 s: the reader reconnects
        fake.append_log(pod.id, "container", "second live line")
        reader.join(timeout=5)
        assert [line.line for line in seen] == ["first live line", "second live line"]  # nothing twice
        assert len([r for r in fake.calls("GET", r"/v2/pods/.+/logs") if r.status == 200]) >= 2


def test_follow_pauses_before_reopening_a_stream_that_closed_at_once() -> None:
    opens: list[float] = []

    class EmptyStream(BaseHTTPRequestHandler):  # a stopped pod's log: 200, nothing, closed at once
        def do_GET(self) -> None:
            opens.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    with serving(EmptyStream) as address:
        client = RunPodClient("rpa_" + "k" * 40, f"http://{address}")
        assert list(client.pods.logs("pod1", follow=True, idle_s=0.4, max_s=1.0)) == []
    assert 2 <= len(opens) <= 4, f"{len(opens)} opens in 1 s: one per idle_s at most, not a tight loop"


def test_logs_of_an_unknown_pod_are_not_found(client: RunPodClient) -> None:
    with pytest.raises(NotFound):
        list(client.pods.logs("nope"))
