"""The probe and `python -m components.health` against the loopback vLLM fake (a real HTTP server)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from components import tuning
from components.health import (
    API_KEY_SETTING,
    Polling,
    make_png,
    normalize_base_url,
    probe,
    tuning_from_env,
)
from tests.fakes.vllm import FakeVllm, png_size

POLL_ENV, REQUEST_TIMEOUT_ENV = tuning.HEALTH_POLL.env, tuning.HEALTH_REQUEST_TIMEOUT.env
UNREACHABLE_ENV = tuning.HEALTH_UNREACHABLE.env

ROOT = Path(__file__).resolve().parent.parent
MODEL = "autoglm-phone-9b"
KEY = "vllm-key-0123456789abcdef"
FAST = Polling(first_s=0.05, max_s=0.1)


def fast_probe(base_url: str, **kwargs):
    kwargs.setdefault("timeout_s", 5)
    kwargs.setdefault("request_timeout_s", 5)
    kwargs.setdefault("polling", FAST)
    return probe(base_url, kwargs.pop("model", MODEL), **kwargs)


def chat_bodies(fake: FakeVllm) -> list[dict]:
    return [r.body for r in fake.requests_to("/v1/chat/completions")]


# --- the probe ---------------------------------------------------------------------------------------


def test_healthy_server_gives_a_full_report():
    with FakeVllm(max_model_len=25480, version="0.12.0") as fake:
        report = fast_probe(fake.base_url)
    assert report.healthy, report.reason
    assert (report.failed_step, report.reason) == (None, None)
    assert report.served_model == MODEL and report.served_models == (MODEL,)
    assert report.max_model_len == 25480
    assert report.vllm_version == "0.12.0"
    assert set(report.latencies_ms) == {"health", "version", "models", "chat", "image"}
    assert report.image_checked
    assert report.seconds_to_ready is not None and report.seconds_to_healthy is not None
    assert report.seconds_to_ready <= report.seconds_to_healthy <= report.elapsed_s
    assert report.summary().splitlines()[-1] == "healthy"
    assert [r.path for r in fake.requests] == ["/health", "/version", "/v1/models", "/v1/chat/completions",
                                               "/v1/chat/completions"]


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_base_url_may_end_with_v1(suffix):
    with FakeVllm() as fake:
        report = fast_probe(fake.base_url + suffix)
    assert report.healthy, report.reason
    assert report.base_url == fake.base_url
    assert {r.path for r in fake.requests} >= {"/health", "/v1/models"}


def test_requests_mirror_the_autoglm_client():
    with FakeVllm() as fake:
        assert fast_probe(fake.base_url).healthy
    text, image = chat_bodies(fake)
    for body in (text, image):
        assert body["model"] == MODEL
        assert body["temperature"] == 0.0 and body["max_tokens"] <= 5 and body["stream"] is False
    assert text["messages"] == [{"role": "user", "content": "Hi"}]
    parts = image["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert fake.requests_to("/v1/chat/completions")[1].images == ((224, 224),)  # the fake decoded it


def test_make_png_is_a_well_formed_png():
    png = make_png(30, 20)
    assert png_size(png) == (30, 20)
    assert png_size(make_png()) == (224, 224)
    with pytest.raises(ValueError, match="CRC"):
        png_size(png[:-5] + b"XXXXX")


def test_slow_start_within_the_deadline():
    with FakeVllm(load_delay_s=1.0) as fake:
        report = fast_probe(fake.base_url, timeout_s=5)
    assert report.healthy, report.reason
    assert report.seconds_to_ready is not None and report.seconds_to_ready >= 1.0  # not before it listened
    assert report.health_polls > 2  # connections were refused first


def test_never_ready_fails_at_the_deadline_not_before_not_long_after():
    with FakeVllm(load_delay_s=60) as fake:
        t0 = time.monotonic()
        report = fast_probe(fake.base_url, timeout_s=2)
        wall = time.monotonic() - t0
    assert not report.healthy
    assert report.failed_step == "health"
    assert "within 2 s" in report.reason and "connection refused" in report.reason
    assert 2.0 <= report.elapsed_s <= wall < 3.0
    assert report.last_status is None  # nothing ever answered


@pytest.mark.parametrize("status", [502, 503, 524])
def test_proxy_errors_mean_not_yet(status):
    with FakeVllm(unavailable_s=0.6, unavailable_status=status) as fake:
        report = fast_probe(fake.base_url)
    assert report.healthy, report.reason
    assert status in [r.status for r in fake.requests_to("/health")]
    assert report.seconds_to_ready is not None and report.seconds_to_ready >= 0.6


def test_never_ready_behind_the_proxy_reports_the_last_answer():
    with FakeVllm(unavailable_s=60, unavailable_status=502) as fake:
        report = fast_probe(fake.base_url, timeout_s=1)
    assert (report.healthy, report.failed_step) == (False, "health")
    assert "last: HTTP 502" in report.reason
    assert report.last_status == 502 and report.last_body == "error code: 502"


# --- a wrong URL is not "still loading" -------------------------------------------------------------


def non_loopback_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing): not 127.x, so a refusal
    there counts as another machine's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
        probe_socket.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up
        address = probe_socket.getsockname()[0]
    assert not address.startswith("127."), address
    return address


def test_a_name_that_does_not_resolve_fails_at_once_with_the_reason_whole(monkeypatch: pytest.MonkeyPatch):
    real = socket.getaddrinfo

    def resolve(host: object, *args: object, **kwargs: object) -> object:  # NXDOMAIN without asking a resolver
        if host == "nonexistent.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    t0 = time.monotonic()
    report = fast_probe("https://nonexistent.invalid", timeout_s=60)
    assert time.monotonic() - t0 < 10
    assert (report.healthy, report.failed_step, report.health_polls) == (False, "health", 1)
    assert report.reason.startswith("nonexistent.invalid does not resolve (")
    assert "check the host name in the URL" in report.reason and "proxy.runpod.net" in report.reason
    assert "HTTPSConnectionPool" not in report.reason and "Max retries" not in report.reason


def test_https_to_a_plain_http_server_fails_at_once_as_a_tls_failure():
    with FakeVllm() as fake:
        assert fake.wait_listening(5)
        report = fast_probe(fake.base_url.replace("http://", "https://"), timeout_s=60)
    assert (report.healthy, report.failed_step, report.health_polls) == (False, "health", 1)
    assert report.reason.startswith(f"TLS with 127.0.0.1:{fake.port} failed (")
    assert "is the scheme right?" in report.reason
    assert "SSLError(" not in report.reason and "_ssl.c" not in report.reason


def test_another_machine_refusing_connections_fails_after_the_grace_not_the_deadline():
    address = non_loopback_address()
    with socket.socket() as closed:  # bound, never listening: connects are refused
        closed.bind((address, 0))
        port = closed.getsockname()[1]
        t0 = time.monotonic()
        report = fast_probe(f"http://{address}:{port}", timeout_s=60,
                            polling=Polling(first_s=0.05, max_s=0.1, unreachable_grace_s=1.0))
        wall = time.monotonic() - t0
    assert 1.0 <= wall < 10
    assert (report.healthy, report.failed_step) == (False, "health")
    assert report.reason.startswith(f"connection refused by {address}:{port}, still after 1 s ")
    assert "AUTOGLM_HEALTH_UNREACHABLE_S" in report.reason and "nothing listens there" in report.reason
    assert report.health_polls > 2


def test_wrong_model_says_what_is_served():
    with FakeVllm(served_model_name="autoglm-phone-9b-multilingual") as fake:
        report = fast_probe(fake.base_url)
    assert (report.healthy, report.failed_step) == (False, "models")
    assert "'autoglm-phone-9b-multilingual'" in report.reason and "--served-model-name" in report.reason
    assert report.served_models == ("autoglm-phone-9b-multilingual",)
    assert not fake.requests_to("/v1/chat/completions")


def test_dead_engine_fails_the_chat_although_health_is_200():
    with FakeVllm(dead_engine=True) as fake:
        report = fast_probe(fake.base_url)
    assert (report.healthy, report.failed_step, report.last_status) == (False, "chat", 500)
    assert "EngineCore" in report.reason and "/health says 200" in report.reason
    assert "EngineCore" in (report.last_body or "")
    assert report.summary().splitlines()[-1] == f"unhealthy: {report.reason}"


def test_rejected_image_fails_the_image_step():
    with FakeVllm(reject_images=True) as fake:
        report = fast_probe(fake.base_url)
    assert (report.healthy, report.failed_step, report.last_status) == (False, "image", 400)
    assert "rejected the image" in report.reason and "At most 0 image(s)" in report.reason
    assert not report.image_checked


def test_no_image_skips_the_image_request():
    with FakeVllm(reject_images=True) as fake:
        report = fast_probe(fake.base_url, image_check=False)
    assert report.healthy, report.reason
    assert not report.image_checked and "image" not in report.latencies_ms
    assert len(chat_bodies(fake)) == 1 and isinstance(chat_bodies(fake)[0]["messages"][0]["content"], str)


def test_slow_answer_times_out_below_the_request_timeout():
    with FakeVllm(completion_delay_s=1.5) as fake:
        t0 = time.monotonic()
        report = fast_probe(fake.base_url, request_timeout_s=0.4)
        wall = time.monotonic() - t0
    assert (report.healthy, report.failed_step) == (False, "chat")
    assert "no answer within 0.4 s" in report.reason
    assert wall < 1.5  # it gave up rather than waiting for the slow answer


def test_slow_answer_within_the_request_timeout_passes():
    with FakeVllm(completion_delay_s=0.3) as fake:
        report = fast_probe(fake.base_url, request_timeout_s=2)
    assert report.healthy, report.reason
    assert report.latencies_ms["chat"] >= 300


def test_api_key_is_sent_to_v1_only():
    with FakeVllm(api_key=KEY) as fake:
        report = fast_probe(fake.base_url, api_key=KEY)
    assert report.healthy, report.reason
    for r in fake.requests:
        sent = r.headers.get("authorization")
        assert sent == (f"Bearer {KEY}" if r.path.startswith("/v1") else None), r.path
    assert KEY not in json.dumps(report.as_dict()) + report.summary()


def test_missing_api_key_names_the_setting():
    with FakeVllm(api_key=KEY) as fake:
        report = fast_probe(fake.base_url)
    assert (report.healthy, report.failed_step, report.last_status) == (False, "models", 401)
    assert "none was sent" in report.reason
    assert API_KEY_SETTING in report.reason and "--api-key-env" in report.reason


def test_wrong_api_key_says_it_was_rejected_without_showing_it():
    wrong = "wrong-key-fedcba9876543210"
    with FakeVllm(api_key=KEY) as fake:
        report = fast_probe(fake.base_url, api_key=wrong)
    assert (report.healthy, report.failed_step, report.last_status) == (False, "models", 401)
    assert "rejected the API key" in report.reason and API_KEY_SETTING in report.reason
    text = json.dumps(report.as_dict()) + report.summary() + report.diagnosis()
    assert wrong not in text and KEY not in text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"base_url": "ftp://example.com"}, "not an http"),
    ({"base_url": ""}, "empty"),
    ({"model": " "}, "served_model_name is empty"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"request_timeout_s": 100}, "100 s"),
    ({"api_key": "two words"}, "spaces"),
])
def test_bad_arguments_raise_before_any_request(kwargs, message):
    with FakeVllm() as fake:
        base_url = kwargs.pop("base_url", fake.base_url)
        with pytest.raises(ValueError, match=message) as info:
            fast_probe(base_url, **kwargs)
        assert fake.requests == []
    assert "two words" not in str(info.value)


def test_normalize_base_url():
    assert normalize_base_url("https://abc-8000.proxy.runpod.net/v1/") == "https://abc-8000.proxy.runpod.net"
    assert normalize_base_url(" http://h:8000 ") == "http://h:8000"


def test_tuning_from_env():
    assert tuning_from_env({}) == (90.0, Polling())
    assert tuning_from_env({UNREACHABLE_ENV: "7"})[1].unreachable_grace_s == 7.0
    timeout, polling = tuning_from_env({REQUEST_TIMEOUT_ENV: "3", POLL_ENV: "0.1"})
    assert timeout == 3.0 and polling.max_s == 0.1 and polling.first_s == 0.1
    with pytest.raises(ValueError, match=REQUEST_TIMEOUT_ENV):
        tuning_from_env({REQUEST_TIMEOUT_ENV: "120"})
    with pytest.raises(ValueError, match=POLL_ENV):
        tuning_from_env({POLL_ENV: "soon"})


def test_polling_backs_off_up_to_its_cap():
    delays = Polling(first_s=0.25, factor=2, max_s=1.0).delays()
    assert [next(delays) for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]


# --- the fake itself (the lead reuses it) ------------------------------------------------------------


def test_fake_refuses_connections_until_loaded():
    with FakeVllm(load_delay_s=0.5) as fake:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", fake.port), timeout=1).close()
        assert fake.wait_listening(5)
        socket.create_connection(("127.0.0.1", fake.port), timeout=1).close()


def test_fake_guards_only_v1_with_the_api_key():
    with FakeVllm(api_key=KEY) as fake:
        assert requests.get(f"{fake.base_url}/health", timeout=5).status_code == 200
        assert requests.post(f"{fake.base_url}/ping", timeout=5).status_code == 200
        assert requests.get(f"{fake.base_url}/version", timeout=5).json() == {"version": "0.12.0"}
        for headers in ({}, {"Authorization": "Bearer nope"}):
            resp = requests.get(f"{fake.v1_url}/models", headers=headers, timeout=5)
            assert (resp.status_code, resp.json()) == (401, {"error": "Unauthorized"})
        ok = requests.get(f"{fake.v1_url}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
        assert ok.status_code == 200 and ok.json()["data"][0]["id"] == MODEL


def test_fake_rejects_a_broken_image():
    broken = base64.b64encode(make_png()[:-4] + b"\0\0\0\0").decode()
    body = {"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{broken}"}}]}]}
    with FakeVllm() as fake:
        resp = requests.post(f"{fake.v1_url}/chat/completions", json=body, timeout=5)
    assert resp.status_code == 400 and "Invalid image" in resp.json()["error"]["message"]


# --- the command -------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, POLL_ENV: "0.1", REQUEST_TIMEOUT_ENV: "5", **(env or {})}
    return subprocess.run([sys.executable, "-m", "components.health", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_healthy_exits_0():
    with FakeVllm() as fake:
        result = run_cli("--base-url", fake.v1_url, "--model", MODEL, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "healthy"
    assert any("max_model_len 25480" in ln for ln in lines) and any("0.12.0" in ln for ln in lines)


def test_cli_json_report():
    with FakeVllm() as fake:
        result = run_cli("--base-url", fake.base_url, "--model", MODEL, "--json", "--no-image")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True and report["served_model"] == MODEL and report["image_checked"] is False
    assert len(fake.requests_to("/v1/chat/completions")) == 1


def test_cli_unhealthy_exits_1_with_the_reason_last():
    with FakeVllm(dead_engine=True) as fake:
        result = run_cli("--base-url", fake.base_url, "--model", MODEL)
    assert result.returncode == 1
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("unhealthy: POST /v1/chat/completions answered 500")


def test_cli_never_ready_json_exits_1_at_the_deadline():
    with FakeVllm(load_delay_s=60) as fake:
        result = run_cli("--base-url", fake.base_url, "--model", MODEL, "--timeout", "1", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["failed_step"] == "health" and report["elapsed_s"] >= 1.0
    assert result.stderr.strip().splitlines()[-1] == f"unhealthy: {report['reason']}"


def test_cli_on_a_wrong_url_exits_1_at_once_with_a_whole_reason():
    t0 = time.monotonic()
    result = run_cli("--base-url", "https://nonexistent.invalid/v1", "--model", MODEL)
    assert time.monotonic() - t0 < 30  # not the default 1200 s
    assert result.returncode == 1
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("unhealthy: nonexistent.invalid does not resolve (") and last.endswith(
        "(`pulumi stack output base_url`)")
    assert "Max retries" not in result.stdout + result.stderr and "…" not in result.stdout + result.stderr


def test_cli_reads_the_api_key_from_the_named_variable():
    with FakeVllm(api_key=KEY) as fake:
        ok = run_cli("--base-url", fake.base_url, "--model", MODEL, "--api-key-env", "MY_VLLM_KEY",
                     env={"MY_VLLM_KEY": KEY})
        wrong = run_cli("--base-url", fake.base_url, "--model", MODEL, "--api-key-env", "MY_VLLM_KEY",
                        env={"MY_VLLM_KEY": "not-the-key"})
        missing = run_cli("--base-url", fake.base_url, "--model", MODEL)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert wrong.returncode == 1 and "rejected the API key" in wrong.stdout.splitlines()[-1]
    assert missing.returncode == 1 and "--api-key-env" in missing.stdout.splitlines()[-1]
    for result in (ok, wrong, missing):
        assert KEY not in result.stdout + result.stderr
    assert "not-the-key" not in wrong.stdout + wrong.stderr


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--base-url", "http://127.0.0.1:9"], {}, "--model"),
    (["--base-url", "ftp://x", "--model", MODEL], {}, "not an http"),
    (["--base-url", "http://127.0.0.1:9", "--model", MODEL, "--timeout", "-1"], {}, "--timeout"),
    (["--base-url", "http://127.0.0.1:9", "--model", MODEL, "--api-key-env", "SURELY_UNSET_VAR_42"], {},
     "SURELY_UNSET_VAR_42"),
    (["--base-url", "http://127.0.0.1:9", "--model", MODEL], {REQUEST_TIMEOUT_ENV: "150"}, "100 s"),
])
def test_cli_bad_usage_exits_2(args, env, message):
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_checks_a_serverless_endpoint_through_its_load_balancer_with_the_runpod_key():
    from tests.fakes.runpod import FakeRunPod

    with FakeRunPod(worker_init_s=0.05) as runpod, FakeVllm() as fake:
        balancer = runpod.balancer(fake.base_url)
        made = runpod.fleet.add({"name": "e", "type": "LOAD_BALANCER", "image": "i", "env": {},
                                 "gpu": {"pools": ["ADA_48_PRO"], "count": 1}, "workers": {"min": 0, "max": 1}})
        url = balancer.url(made.id) + "/v1"
        result = run_cli("--serverless", "--base-url", url, "--model", MODEL, "--api-key-env", "RP_KEY",
                         "--timeout", "20", env={"RP_KEY": runpod.api_key})
        refused = run_cli("--serverless", "--base-url", url, "--model", MODEL, "--api-key-env", "RP_KEY",
                          env={"RP_KEY": "rpa_not_the_key_000"})
        no_key = run_cli("--serverless", "--base-url", url, "--model", MODEL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert balancer.routed(made.id)[0].status == 400, "the first /ping woke a worker"
    assert refused.returncode == 1 and "GET /ping answered 401" in refused.stdout.splitlines()[-1]
    assert no_key.returncode == 2 and "--serverless needs --api-key-env" in no_key.stderr
    assert runpod.api_key not in result.stdout + result.stderr


def test_cli_serverless_refuses_a_runpod_key_with_a_carriage_return_without_printing_it():
    secret = "rpa_DO_NOT_PRINT_0123456789"
    result = run_cli("--base-url", "https://ep123.api.runpod.ai", "--model", MODEL, "--serverless",
                     "--api-key-env", "RP_KEY", env={"RP_KEY": secret + "\r"})
    assert result.returncode == 2
    assert "the RunPod API key contains spaces or control characters" in result.stderr
    assert secret not in result.stdout + result.stderr
