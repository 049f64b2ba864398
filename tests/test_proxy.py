"""The image's reverse proxy, for real: docker/start.sh renders nginx's configuration and runs the real nginx in
front of the project's vLLM fake, which a stub `vllm` serves on the loopback port the script gives it.

From outside only GET /health, GET /ping and /v1/* with the key may answer; the fake behind it, like vLLM, answers
/invocations, /tokenize and /metrics to anyone (tests/fakes/vllm.py).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import struct
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.start_script import FAKE_VLLM_STUB, Launched, StartScript, free_port, wait_for

KEY = "Kq3ZtV8wN1bXr6YpL0mC4sDf7GhJ2aEu9iOoPkQlRnSvTxWy"  # 48 alphanumerics, as the stack generates
WRONG = "Kq3ZtV8wN1bXr6YpL0mC4sDf7GhJ2aEu9iOoPkQlRnSvTxWz"
MODEL = "autoglm-phone-9b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
AUTHS = {"no key": None, "wrong key": f"Bearer {WRONG}", "key in lower case": f"Bearer {KEY.lower()}",
         "right key": f"Bearer {KEY}"}
READY_S = 20  # generous: two processes start on a shared 2-core machine

OPEN = [("GET", "/health"), ("GET", "/ping")]
KEYED = [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
# vLLM's other routes (0.12 → 0.33), closed whatever the key; the methods are vLLM's.
CLOSED = [("POST", "/invocations"), ("POST", "/tokenize"), ("POST", "/detokenize"), ("GET", "/metrics"),
          ("POST", "/pooling"), ("POST", "/v2/chat/completions"), ("POST", "/inference/v1/generate"),
          ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/openapi.json"), ("GET", "/version"), ("GET", "/load"),
          ("POST", "/score"), ("POST", "/rerank"), ("POST", "/classify"), ("GET", "/"), ("GET", "/v1"),
          ("GET", "/V1/models"), ("POST", "/ping"), ("POST", "/health")]


def launch(tmp: Path, env: dict[str, str] | None = None, behaviour: dict[str, Any] | None = None) -> Launched:
    script = StartScript(tmp, FAKE_VLLM_STUB).with_driver()
    return script.launch({"VLLM_PORT": str(free_port()), "FAKE_VLLM_BEHAVIOUR": json.dumps(behaviour or {}),
                          "STOP_GRACE_S": "5", **(env or {})})


def status(launched: Launched, path: str) -> int | None:
    """The status nginx answers `GET path` with; None while nothing listens."""
    try:
        return requests.get(launched.url(path), timeout=5).status_code
    except requests.ConnectionError:
        return None


def ready(launched: Launched) -> Launched:
    wait_for(lambda: status(launched, "/ping") == 200 or not launched.running(), READY_S, "/ping answers 200")
    assert launched.running(), launched.stderr
    return launched


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Launched]:
    launched = ready(launch(tmp_path, {"VLLM_API_KEY": KEY}))
    yield launched
    launched.kill_group()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    tmp = tmp_path_factory.mktemp("keyed")
    launched = ready(launch(tmp, {"VLLM_API_KEY": KEY}, {"reply": "one two three",
                                                           "stream_hold_until": str(tmp / "release")}))
    yield launched
    launched.kill_group()


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    launched = ready(launch(tmp_path_factory.mktemp("public")))
    yield launched
    launched.kill_group()


def call(launched: Launched, method: str, path: str, authorization: str | None = None,
         port: int | None = None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    url = f"http://127.0.0.1:{port}{path}" if port else launched.url(path)
    return requests.request(method, url, headers=headers, json=CHAT if method == "POST" else None, timeout=10)


# ---- routes ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize(("method", "path"), OPEN)
def test_health_and_ping_are_open_and_passed_through(keyed: Launched, auth: str, method: str, path: str) -> None:
    resp = call(keyed, method, path, AUTHS[auth])
    assert resp.status_code == 200 and resp.content == b""


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize(("method", "path"), KEYED)
def test_v1_answers_only_with_the_key(keyed: Launched, auth: str, method: str, path: str) -> None:
    resp = call(keyed, method, path, AUTHS[auth])
    if auth == "right key":
        assert resp.status_code == 200, resp.text
        assert resp.json()["object"] in ("list", "chat.completion")
    else:
        assert resp.status_code == 401
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.json() == {"error": "Unauthorized"}  # vLLM's own body, so the health check's 401 message holds


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize(("method", "path"), CLOSED)
def test_every_other_path_is_closed_whatever_the_key(keyed: Launched, auth: str, method: str, path: str) -> None:
    resp = call(keyed, method, path, AUTHS[auth])
    expected = 405 if path in ("/ping", "/health") else 404
    assert resp.status_code == expected, f"{method} {path}: {resp.status_code} {resp.text[:200]}"
    assert resp.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("raw_path", ["/v1/../invocations", "/v1/%2e%2e/tokenize", "/v1/..%2fmetrics",
                                      "/v1/models/../../invocations", "/health/../invocations", "//invocations",
                                      "/%69nvocations", "/v1%2f../invocations"])
def test_paths_that_climb_out_of_v1_are_closed(keyed: Launched, raw_path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", keyed.port, timeout=10)
    try:
        conn.request("POST", raw_path, body=json.dumps(CHAT), headers={"Authorization": f"Bearer {KEY}",
                                                                        "Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 404, f"{raw_path}: {resp.status} {resp.read()[:200]!r}"
    finally:
        conn.close()


def test_behind_the_proxy_vllm_answers_invocations_without_a_key_which_is_why_it_is_there(keyed: Launched) -> None:
    assert call(keyed, "POST", "/invocations", port=keyed.vllm_port).status_code == 200
    assert call(keyed, "GET", "/metrics", port=keyed.vllm_port).status_code == 200
    assert call(keyed, "POST", "/invocations").status_code == 404


def listening_addresses(port: int) -> set[str]:
    """The local addresses of IPv4 sockets listening on `port` (from /proc/net/tcp, in its hex notation)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(address)
    return found


def test_vllm_listens_on_loopback_only(keyed: Launched) -> None:
    # The fake binds exactly the host the script passes to `vllm serve`, as vLLM does.
    assert listening_addresses(keyed.vllm_port) == {"0100007F"}  # 127.0.0.1, not 00000000 (every interface)
    assert f"server 127.0.0.1:{keyed.vllm_port};" in (keyed.proxy_dir / "nginx.conf").read_text()


def test_vllm_keeps_its_own_key_as_a_second_lock(keyed: Launched) -> None:
    assert call(keyed, "GET", "/v1/models", port=keyed.vllm_port).status_code == 401
    assert call(keyed, "GET", "/v1/models", f"Bearer {KEY}", port=keyed.vllm_port).status_code == 200


@pytest.mark.parametrize(("method", "path", "expected"), [*[(m, p, 200) for m, p in OPEN + KEYED],
                                                          *[(m, p, 405 if p in ("/ping", "/health") else 404)
                                                            for m, p in CLOSED]])
def test_public_endpoint_opens_v1_without_a_key_and_nothing_else(public: Launched, method: str, path: str,
                                                                 expected: int) -> None:
    assert call(public, method, path).status_code == expected


# ---- /ping for RunPod's load balancer -------------------------------------------------------------------------

def test_ping_says_204_while_vllm_loads_then_200(tmp_path: Path) -> None:
    launched = launch(tmp_path, {"VLLM_API_KEY": KEY}, {"load_delay_s": 4.0})
    try:
        wait_for(lambda: status(launched, "/ping") is not None, READY_S, "nginx listens")
        seen = [status(launched, "/ping")]
        assert seen == [204], "vLLM was still loading: it listens only after load_delay_s"
        assert status(launched, "/health") == 502, "/health passes the refused connection through"

        def left_loading() -> bool:
            seen.append(status(launched, "/ping"))
            return seen[-1] != 204

        wait_for(left_loading, READY_S, "/ping answers something else than 204")
        assert seen[-1] == 200 and set(seen) == {204, 200}
    finally:
        launched.kill_group()


def test_ping_passes_vllms_503_through_when_the_engine_is_dead(tmp_path: Path) -> None:
    launched = launch(tmp_path, {"VLLM_API_KEY": KEY}, {"unavailable_s": 600, "unavailable_status": 503})
    try:
        wait_for(lambda: status(launched, "/health") not in (None, 502), READY_S, "vLLM listens")
        assert status(launched, "/ping") == 503
        assert status(launched, "/health") == 503
    finally:
        launched.kill_group()


# ---- streaming, large bodies ----------------------------------------------------------------------------------

def events(resp: http.client.HTTPResponse) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream, as they arrive."""
    while line := resp.readline():
        if line.startswith(b"data: "):
            yield line[len(b"data: "):].decode().strip()


def test_streamed_chunks_reach_the_client_while_the_answer_is_produced(keyed: Launched) -> None:
    release = Path(json.loads(keyed.env["FAKE_VLLM_BEHAVIOUR"])["stream_hold_until"])
    conn = http.client.HTTPConnection("127.0.0.1", keyed.port, timeout=15)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps({**CHAT, "stream": True}),
                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream")
        stream = events(resp)
        first = json.loads(next(stream))
        assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["role"] == "assistant"
        # The fake holds the last chunk until this file exists: the first one came through unbuffered.
        release.touch()
        rest = list(stream)
    finally:
        conn.close()
    assert rest[-1] == "[DONE]", rest[-1]
    chunks = [json.loads(r) for r in rest[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "one two three"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def noise_png(width: int, height: int) -> bytes:
    """An RGBA PNG of random pixels: what a screenshot is at worst, since it does not compress."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row_bytes = 1 + width * 4
    pixels = bytearray(os.urandom(row_bytes * height))
    pixels[::row_bytes] = bytes(height)  # filter type 0 at the start of every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(pixels), 0))
            + chunk(b"IEND", b""))


def test_two_worst_case_5_megapixel_screenshots_pass(keyed: Launched) -> None:
    url = "data:image/png;base64," + base64.b64encode(noise_png(2500, 2000)).decode()  # 5 MP, 26.7 MB
    content = [{"type": "image_url", "image_url": {"url": url}}] * 2 + [{"type": "text", "text": "What now?"}]
    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": content}]}).encode()
    assert len(body) > 50_000_000
    resp = requests.post(keyed.url("/v1/chat/completions"), data=body, timeout=60,
                         headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text[:300]  # the fake checked both PNGs: every byte arrived
    assert resp.json()["choices"]


def test_a_body_beyond_ten_worst_case_screenshots_is_refused(keyed: Launched) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", keyed.port, timeout=10)
    try:
        conn.putrequest("POST", "/v1/chat/completions")
        conn.putheader("Authorization", f"Bearer {KEY}")
        conn.putheader("Content-Length", str(300 * 1024 * 1024 + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
    finally:
        conn.close()


# ---- the key stays out of the logs ----------------------------------------------------------------------------

def test_the_key_never_reaches_nginxs_logs_or_the_scripts_output(proxy: Launched) -> None:
    assert call(proxy, "GET", "/v1/models", f"Bearer {KEY}").status_code == 200
    assert call(proxy, "POST", "/v1/chat/completions?api_key=" + KEY, f"Bearer {KEY}").status_code == 200
    assert call(proxy, "GET", "/invocations", f"Bearer {KEY}").status_code == 404
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        # A header nginx ignores as invalid (it logs those lines whole, at info level) and an over-long body
        # (an error line).
        s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX_Api_Key: Bearer {KEY}\r\n"
                  f"Authorization: Bearer {KEY}\r\nContent-Length: {300 * 1024 * 1024 + 1}\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    wait_for(lambda: "too large body" in proxy.error_log, 5, "nginx logs the refused body")
    logs = proxy.access_log + proxy.error_log
    assert "GET /v1/models" in proxy.access_log and '"POST /v1/chat/completions" 200' in proxy.access_log
    assert KEY not in logs and KEY not in proxy.stdout + proxy.stderr
    assert proxy.stop() == 0
    assert KEY not in proxy.access_log + proxy.error_log + proxy.stdout + proxy.stderr


# ---- supervision ----------------------------------------------------------------------------------------------

def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_vllm_dying_stops_nginx_and_ends_the_container_non_zero(proxy: Launched) -> None:
    os.kill(proxy.child("vllm"), signal.SIGKILL)
    assert proxy.wait() == 128 + signal.SIGKILL
    assert "vLLM was killed by signal 9; stopping nginx" in proxy.stderr
    assert refused(proxy.port), "nginx must not keep answering for a dead vLLM"


def test_nginx_dying_stops_vllm_and_ends_the_container_non_zero(proxy: Launched) -> None:
    os.kill(int((proxy.proxy_dir / "nginx.pid").read_text()), signal.SIGKILL)
    assert proxy.wait() == 128 + signal.SIGKILL
    assert "nginx was killed by signal 9; stopping vLLM" in proxy.stderr
    assert refused(proxy.vllm_port)


def test_vllm_exiting_by_itself_ends_the_container_with_its_status(tmp_path: Path) -> None:
    launched = StartScript(tmp_path, "#!/bin/bash\nexit 3\n").with_driver().launch()
    try:
        assert launched.wait() == 3
        assert "vLLM exited with status 3; stopping nginx" in launched.stderr
        assert refused(launched.port)
    finally:
        launched.kill_group()


def test_nginx_failing_to_start_stops_vllm(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        launched = launch(tmp_path, {"PORT": str(taken.getsockname()[1])})
        try:
            assert launched.wait() == 1
            assert "Address already in use" in launched.error_log + launched.stderr
            assert "nginx exited with status 1; stopping vLLM" in launched.stderr
        finally:
            launched.kill_group()


IGNORES_SIGTERM = f"""#!{sys.executable}
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.environ["STUB_RECORD"], "w").close()
time.sleep(60)
"""


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    script = StartScript(tmp_path, IGNORES_SIGTERM).with_driver()
    launched = script.launch({"STOP_GRACE_S": "1"})
    try:
        wait_for(script.record.exists, READY_S, "the stub ignores SIGTERM")
        vllm = launched.child("vllm")
        started = time.monotonic()
        assert launched.stop(signal.SIGTERM) == 0
        assert 1 <= time.monotonic() - started < 8
        assert "still running 1 s after SIGTERM; sending SIGKILL" in launched.stderr
        assert not Path(f"/proc/{vllm}").exists()
    finally:
        launched.kill_group()


def test_sigterm_stops_both_and_exits_zero(proxy: Launched) -> None:
    started = time.monotonic()
    assert proxy.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert "stopped on SIGTERM" in proxy.stdout
    assert refused(proxy.port) and refused(proxy.vllm_port)
