"""A loopback fake of vLLM's OpenAI-compatible server, with the faults a RunPod deployment shows.

It follows vLLM 0.12's published behaviour (../shared/research/vllm_autoglm.md §2.4, §3):

- Until the model is "loaded" the port is bound but not listening, exactly like vLLM (which binds early and
  calls listen() only once the engine is up): connects are refused, not hung.
- `GET /health` and `GET|POST /ping` answer 200 with an empty body; `GET /version` answers
  `{"version": "0.12.0"}`. These stay open when an API key is set.
- With an API key, every path under `/v1` needs `Authorization: Bearer <key>`; otherwise 401 with vLLM's
  body `{"error": "Unauthorized"}`. Like the real server (../shared/research/vllm-releases.md §5), the key
  guards nothing else: `POST /invocations` answers a chat completion, `POST /tokenize` and `GET /metrics`
  answer too, all without a key.
- `GET /v1/models` lists one card whose `id` is the served model name, with `max_model_len`.
- `POST /v1/chat/completions` checks the model name (404 otherwise) and every `image_url` part: it must be a
  base64 `data:image/png` or `image/jpeg` URL, and a PNG must be well formed (chunk CRCs, IHDR, IDAT size).
  With `"stream": true` it answers server-sent events in OpenAI's `chat.completion.chunk` format, one chunk
  per word of the reply, then `data: [DONE]`.

The weights: with `hf_home` (a Hugging Face cache directory, e.g. on a network volume) a start first reads the
model from that cache, or downloads it for `download_s` seconds when it is not there (refused when `offline`, as
with HF_HUB_OFFLINE=1), before it loads (tests/fakes/hf_cache.py); `cache_state` says which happened.

Faults, set as keyword arguments or later on `fake.behaviour` (read on every request):
`load_delay_s` (refuse connections this long), `unavailable_s` + `unavailable_status` (answer e.g. 502/503/524
to every path for a while after listening, like the RunPod proxy), `served_model_name`, `dead_engine`
(completions 500 while /health says 200), `reject_images` (400 on any image), `completion_delay_s` (slow
answers), `api_key`, `stream_hold_until` (a file path: a stream's last chunk waits until that file exists,
so a test can prove it read the first chunk while the answer was still being produced).

    with FakeVllm(load_delay_s=1.0, api_key="k") as fake:
        probe(fake.base_url, "autoglm-phone-9b", api_key="k")
        assert fake.requests_to("/v1/chat/completions")

`python -m tests.fakes.vllm serve MODEL --host H --port P [--api-key K] [--served-model-name N] ...` runs it
as a stand-in for the `vllm` command (other flags are accepted and ignored; the key also comes from env
VLLM_API_KEY, as vLLM reads it) until SIGTERM; env FAKE_VLLM_BEHAVIOUR holds a JSON object of `Behaviour`
fields, `load_delay_s` and `download_s`; HF_HOME and HF_HUB_OFFLINE are read as vLLM reads them (a model it cannot
get offline ends the command with status 1).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import json
import os
import signal
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.hf_cache import HfCache, OfflineMiss

__all__ = ["Behaviour", "FakeVllm", "Recorded", "main", "png_size"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BYTES_PER_PIXEL = {0: 1, 2: 3, 4: 2, 6: 4}  # 8-bit greyscale, RGB, grey+alpha, RGBA


@dataclass
class Behaviour:
    """What the fake serves and which faults it injects; change fields at any time."""

    served_model_name: str = "autoglm-phone-9b"
    root: str = "zai-org/AutoGLM-Phone-9B"
    max_model_len: int = 25480
    version: str = "0.12.0"
    api_key: str | None = None
    unavailable_s: float = 0.0  # after it starts listening, answer `unavailable_status` to everything
    unavailable_status: int = 503
    dead_engine: bool = False
    reject_images: bool = False
    completion_delay_s: float = 0.0
    reply: str = "Hello"
    stream_hold_until: str | None = None  # a path: the last stream chunk waits until it exists
    stream_hold_timeout_s: float = 10.0  # then the stream ends with an error event instead


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it (headers with lower-case names)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    images: tuple[tuple[int, int], ...] = ()  # (width, height) of each valid image part
    at: float = field(default_factory=time.monotonic)


class FakeVllm:
    """A real HTTP server on 127.0.0.1 and a free port; a context manager. See the module docstring."""

    def __init__(self, *, load_delay_s: float = 0.0, host: str = "127.0.0.1", port: int = 0,
                 hf_home: str | Path | None = None, download_s: float = 0.0, offline: bool = False,
                 **behaviour: Any) -> None:
        self.behaviour = dataclasses.replace(Behaviour(), **behaviour)
        self.load_delay_s = load_delay_s
        self.cache = HfCache(Path(hf_home)) if hf_home else None
        self.download_s, self.offline = download_s, offline
        self.cache_state: str | None = None  # warm, downloaded (None: no cache modelled, or not read yet)
        self.failure: str | None = None  # why it never listened (the model could not be had)
        self.ended = threading.Event()  # set when it failed to start
        self.listening_at: float | None = None  # time.monotonic() when it started accepting connections
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._server = _Server(self, host, port)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._run, name=f"fake-vllm-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT (the OpenAI base URL is `base_url + "/v1"`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def wait_listening(self, timeout_s: float = 10.0) -> bool:
        return self._listening.wait(timeout_s)

    def start(self) -> FakeVllm:
        if self.load_delay_s <= 0 and self.cache is None:
            self._listen()  # listening before start() returns: no race with the first request
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._listening.is_set():
            self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeVllm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _listen(self) -> None:
        self._server.server_activate()  # listen(): from here on connects succeed
        self.listening_at = time.monotonic()
        self._listening.set()

    def _run(self) -> None:
        if not self._listening.is_set():
            if not self._weights() or self._stop.wait(self.load_delay_s):
                return
            self._listen()
        self._server.serve_forever(poll_interval=0.05)

    def _weights(self) -> bool:
        """Read or download the model into the cache; False when it cannot be had (or the fake was stopped)."""
        if self.cache is None:
            return True
        try:
            self.cache_state = self.cache.fetch(self.behaviour.root, download_s=self.download_s,
                                                offline=self.offline, stop=self._stop)
        except OfflineMiss as e:
            self.failure = str(e)
            self.ended.set()
            return False
        return self.cache_state != "stopped"

    def _record(self, entry: Recorded) -> None:
        with self._lock:
            self._requests.append(entry)

    def unavailable_now(self) -> bool:
        b = self.behaviour
        return (b.unavailable_s > 0 and self.listening_at is not None
                and time.monotonic() - self.listening_at < b.unavailable_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeVllm, host: str, port: int) -> None:
        self.fake = fake
        # Bind now (the port is ours and connects are refused), listen later in FakeVllm._run.
        super().__init__((host, port), _Handler, bind_and_activate=False)
        self.server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer closed its socket: expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait 40 ms for an ACK
    server: _Server
    timeout = 10  # idle keep-alive connections must not outlive the test by much

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; tests read `fake.requests` instead

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        body = self._read_json()
        status, payload, images = self._route(fake, path, body)
        fake._record(Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body,
                              status, images))
        self._send(status, payload)

    def _route(self, fake: FakeVllm, path: str, body: Any) -> tuple[int, Any, tuple[tuple[int, int], ...]]:
        b = fake.behaviour
        if fake.unavailable_now():
            return b.unavailable_status, f"error code: {b.unavailable_status}", ()
        if path in ("/health", "/ping") and (self.command == "GET" or path == "/ping"):
            return 200, None, ()
        if path == "/version" and self.command == "GET":
            return 200, {"version": b.version}, ()
        if path.startswith("/v1") and b.api_key is not None \
                and self.headers.get("Authorization") != f"Bearer {b.api_key}":
            return 401, {"error": "Unauthorized"}, ()
        if path == "/v1/models" and self.command == "GET":
            return 200, _models(b), ()
        if path in ("/v1/chat/completions", "/invocations") and self.command == "POST":
            return _chat(b, body)
        if path == "/tokenize" and self.command == "POST":
            return 200, {"count": 3, "max_model_len": b.max_model_len, "tokens": [9906, 11, 1917]}, ()
        if path == "/metrics" and self.command == "GET":
            return 200, "vllm:num_requests_running 0\n", ()
        return 404, {"detail": "Not Found"}, ()

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"__unparsable__": raw[:200].decode(errors="replace")}

    def _send(self, status: int, payload: Any) -> None:
        if isinstance(payload, _Stream):
            self._send_stream(payload)
            return
        if payload is None:
            data = b""
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, stream: _Stream) -> None:
        chunked = self.request_version != "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
        self.end_headers()
        *first, last = stream.chunks
        for chunk in first:
            self._write_event(json.dumps(chunk), chunked)
        if _released(self.server.fake.behaviour):
            self._write_event(json.dumps(last), chunked)
            self._write_event("[DONE]", chunked)
        else:
            self._write_event(json.dumps(_error(500, "the stream's last chunk was never released",
                                                "InternalServerError")), chunked)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write_event(self, data: str, chunked: bool) -> None:
        event = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n" if chunked else event)


@dataclass(frozen=True)
class _Stream:
    """A streamed chat answer: `chat.completion.chunk` objects, sent as server-sent events."""

    chunks: tuple[dict[str, Any], ...]


def _released(b: Behaviour) -> bool:
    """True once `stream_hold_until` exists (at once when unset); False when it did not appear in time."""
    if b.stream_hold_until is None:
        return True
    deadline = time.monotonic() + b.stream_hold_timeout_s
    while not os.path.exists(b.stream_hold_until):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _models(b: Behaviour) -> dict[str, Any]:
    card = {"id": b.served_model_name, "object": "model", "created": int(time.time()), "owned_by": "vllm",
            "root": b.root, "parent": None, "max_model_len": b.max_model_len, "permission": []}
    return {"object": "list", "data": [card]}


def _error(status: int, message: str, type_: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": status}}


def _chat(b: Behaviour, body: Any) -> tuple[int, Any, tuple[tuple[int, int], ...]]:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, _error(400, "messages: a non-empty list is required", "BadRequestError", "messages"), ()
    if body.get("model") != b.served_model_name:
        return 404, _error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError", "model"), ()
    try:
        images = tuple(_image_size(url) for url in _image_urls(body["messages"]))
    except ValueError as e:
        return 400, _error(400, f"Invalid image: {e}", "BadRequestError"), ()
    if images and b.reject_images:
        return 400, _error(400, "At most 0 image(s) may be provided in one prompt.", "BadRequestError"), images
    if b.completion_delay_s:
        time.sleep(b.completion_delay_s)
    if b.dead_engine:
        return 500, _error(500, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
                           "InternalServerError"), images
    if body.get("stream"):
        return 200, _Stream(_chunks(b, body)), images
    return 200, _completion(b, body), images


def _chunks(b: Behaviour, body: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """vLLM's stream: the role first, then the reply word by word, then the finish reason."""
    words = b.reply.split(" ")
    pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
    deltas: list[tuple[dict[str, Any], str | None]] = [({"role": "assistant", "content": ""}, None)]
    deltas += [({"content": piece}, None) for piece in pieces]
    deltas.append(({}, "length" if body.get("max_tokens") else "stop"))
    created = int(time.time())
    return tuple({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
                  "model": b.served_model_name,
                  "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
                 for delta, finish in deltas)


def _completion(b: Behaviour, body: dict[str, Any]) -> dict[str, Any]:
    completion_tokens = min(int(body.get("max_tokens") or 16), 5)
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": b.served_model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": b.reply},
                         "finish_reason": "length", "logprobs": None}],
            "usage": {"prompt_tokens": 12, "completion_tokens": completion_tokens,
                      "total_tokens": 12 + completion_tokens}}


def _image_urls(messages: list[Any]) -> Iterator[str]:
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image_url = part.get("image_url")
                yield image_url.get("url", "") if isinstance(image_url, dict) else ""


def _image_size(url: str) -> tuple[int, int]:
    head, sep, data = url.partition(",")
    if not sep or head not in ("data:image/png;base64", "data:image/jpeg;base64"):
        raise ValueError("expected a data:image/png;base64 or data:image/jpeg;base64 URL")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as e:
        raise ValueError(f"bad base64: {e}") from None
    if head == "data:image/jpeg;base64":
        if not raw.startswith(b"\xff\xd8"):
            raise ValueError("not a JPEG")
        return (0, 0)
    return png_size(raw)


def png_size(raw: bytes) -> tuple[int, int]:
    """(width, height) of a well-formed 8-bit PNG; ValueError naming the first defect otherwise."""
    if not raw.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos, chunks = len(PNG_SIGNATURE), []
    while pos < len(raw):
        if pos + 8 > len(raw):
            raise ValueError("truncated chunk header")
        length, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        data = raw[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", raw[pos + 8 + length:pos + 12 + length] or b"\0\0\0\0")
        if len(data) != length or zlib.crc32(kind + data) != crc:
            raise ValueError(f"bad CRC or length in chunk {kind!r}")
        chunks.append((kind, data))
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("a PNG must start with IHDR and end with IEND")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or colour not in _BYTES_PER_PIXEL or interlace:
        raise ValueError("only 8-bit, non-interlaced PNGs are checked")
    pixels = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    if width == 0 or height == 0 or len(pixels) != height * (1 + width * _BYTES_PER_PIXEL[colour]):
        raise ValueError("IDAT does not hold width × height pixels")
    return width, height


# ---- `vllm serve` stand-in -------------------------------------------------------------------------------

def _serve_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vllm")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key")
    parser.add_argument("--served-model-name")
    parser.add_argument("--max-model-len", type=int)
    args, _ignored = parser.parse_known_args(list(argv))
    return args


def main(argv: Sequence[str]) -> int:
    """Serve like `vllm serve` until SIGTERM or SIGINT; see the module docstring."""
    args = _serve_arguments(argv)
    settings: dict[str, Any] = json.loads(os.environ.get("FAKE_VLLM_BEHAVIOUR") or "{}")
    settings.setdefault("root", args.model)
    settings.setdefault("hf_home", os.environ.get("HF_HOME") or None)
    settings.setdefault("offline", os.environ.get("HF_HUB_OFFLINE") == "1")
    settings.setdefault("api_key", args.api_key or os.environ.get("VLLM_API_KEY") or None)
    if args.served_model_name:
        settings.setdefault("served_model_name", args.served_model_name)
    if args.max_model_len:
        settings.setdefault("max_model_len", args.max_model_len)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with FakeVllm(host=args.host, port=args.port, **settings) as fake:
        while not stop.wait(0.05):
            if fake.ended.is_set():
                sys.stderr.write(f"fake vllm: {fake.failure}\n")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
