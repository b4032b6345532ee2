"""A scripted OpenAI-compatible chat server on 127.0.0.1 for measuring the measurement code.

It answers `GET /v1/models` and `POST /v1/chat/completions` (streamed as server-sent events over chunked
transfer encoding, like real servers, or as one JSON body) as its `Script` says (`tests/fixture_script.py`: the
timing, the modes and every behaviour of a real server it can imitate). Each received request is appended to
`script.received`, with the server's own timestamps (arrival, each token written, response complete;
perf_counter, so directly comparable with an in-process client's) and how far the server fell behind its script.

Use `with serve(Script(...)) as base_url:` (the root URL, without `/v1`, as Foundry Local reports it), or run
`python -m tests.fixture_server --port N --ttft-ms 200 --gap-ms 20 --tokens 30 [--no-usage] [--mode cut_stream]`
(or `--case burst`: a case of issue #10 from tests/field/cases.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .fixture_script import CONTEXT_ERROR, LOADING_ERROR, MODES, ReceivedRequest, Script


class OpenAIWire(BaseHTTPRequestHandler):
    """The OpenAI-compatible wire format, written once for every fake server of the tests (this scripted server and
    tests/app_service_emulator.py): JSON replies, and server-sent events over chunked transfer encoding, one HTTP
    chunk per event, flushed at once. HTTP/1.1 with TCP_NODELAY, as real servers: small writes must not wait."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self, content_type: str = "text/event-stream") -> None:
        """A 200 whose body follows in chunks (server-sent events by default)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, text: str) -> None:
        """One HTTP chunk (e.g. one block of event-stream text), flushed at once."""
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def send_event(self, payload: dict[str, Any] | str) -> None:
        """One `data:` event: a JSON payload, or literal data such as `[DONE]`."""
        self.write_chunk(f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n")

    def end_chunked(self) -> None:
        """The terminating chunk: the body is complete."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    @staticmethod
    def chunk_envelope(model: str, chunk_id: str = "chatcmpl-fixture", created: int = 0) -> dict[str, Any]:
        """The fields every `chat.completion.chunk` carries besides `choices` and `usage`."""
        return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model}


class _FixtureHTTPServer(ThreadingHTTPServer):
    """Handler threads are daemons (ThreadingHTTPServer default), so shutdown never waits on a sleeping stream."""

    def __init__(self, address: tuple[str, int], script: Script) -> None:
        super().__init__(address, _ChatHandler)
        self.script = script
        self.stopping = threading.Event()
        self.first_request: float | None = None  # a scripted model load starts with the first request

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (timeout, closed keep-alive connection) is routine here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _ChatHandler(OpenAIWire):
    server: _FixtureHTTPServer

    def _received(self, body: dict[str, Any] | None) -> ReceivedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = ReceivedRequest(self.command, self.path, body, time.perf_counter(), headers)
        self.server.script.received.append(received)
        return received

    def _ready(self, received: ReceivedRequest) -> bool:
        """While the scripted model loads, every route but /v1/models answers 503 "Loading model" (llama.cpp)."""
        if self.server.first_request is None:
            self.server.first_request = received.arrived
        loading = received.arrived - self.server.first_request < self.server.script.loading_s
        if not loading or self.path.rstrip("/") == "/v1/models":
            return True
        received.status = 503
        self.send_json(503, {"error": LOADING_ERROR})
        return False

    def _authorized(self) -> bool:
        """Without the scripted key, only /v1/models answers (like a gateway that guards every other route)."""
        key = self.server.script.api_key
        if key is None or self.path.rstrip("/") == "/v1/models":
            return True
        if self.headers.get("Authorization") == f"Bearer {key}":
            return True
        sent = self.headers.get("Authorization") or "no Authorization header"  # echoed, as some gateways do
        self.send_json(401, {"error": {"message": f"missing or wrong API key: {sent}", "type": "unauthorized"}})
        return False

    def do_GET(self) -> None:
        received = self._received(None)
        if not self._ready(received) or not self._authorized():
            return
        path = self.path.rstrip("/")
        if path == "/v1/models":
            model = {"id": self.server.script.model_id, "object": "model", "created": 0, "owned_by": "fixture"}
            self.send_json(200, {"object": "list", "data": [model]})
        elif self.server.script.api_key and path.startswith(("/openai/load/", "/openai/unload/")):
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        received = self._received(body)
        script = self.server.script
        if not self._ready(received) or not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        if script.mode == "http_500":
            self.send_json(500, {"error": {"message": "scripted failure", "type": "server_error"}})
            return
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        n_tokens = script.tokens if limit is None else min(script.tokens, limit)
        finish_reason = "stop" if n_tokens == script.tokens else "length"  # the scripted answer ends after `tokens`
        received.cached = self._prefix_cache(body)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(received, n_tokens, finish_reason, script.usage and include_usage)
        else:
            self._respond_whole(received, n_tokens, finish_reason)

    def _prefix_cache(self, body: dict[str, Any]) -> bool:
        """Whether this exact prompt is served from the cache (and remember it for next time)."""
        script = self.server.script
        if not script.prefix_cache or (script.honours_cache_prompt and body.get("cache_prompt") is False):
            return False
        prompt = json.dumps(body.get("messages"), sort_keys=True)
        hit = prompt in script.cache
        script.cache.add(prompt)
        return hit

    def _wait_until(self, deadline: float) -> None:
        """Sleep until a perf_counter deadline; returns early when the server shuts down."""
        remaining = deadline - time.perf_counter()
        if remaining > 0:
            self.server.stopping.wait(remaining)

    @staticmethod
    def _sending_at(received: ReceivedRequest, deadline: float) -> float:
        """A scheduled write starts now: note the lateness, return the time (no client can have seen it before)."""
        now = time.perf_counter()
        received.lateness_s = max(received.lateness_s, now - deadline)
        return now

    def _token_deadline(self, received: ReceivedRequest, index: int) -> float:
        script = self.server.script
        ttft_s = script.cached_ttft_s if received.cached else script.ttft_s
        return received.arrived + ttft_s + index * script.gap_s

    def _extras(self, received: ReceivedRequest) -> dict[str, Any]:
        """Top-level fields of the last chunk besides usage: llama.cpp's timings when it caches prompts."""
        if not self.server.script.prefix_cache:
            return {}
        cached = self.server.script.prompt_tokens if received.cached else 0
        return {"timings": {"cache_n": cached, "prompt_n": self.server.script.prompt_tokens - cached}}

    def _chunk_delta(self, indices: range) -> dict[str, str]:
        """The merged delta of the tokens sent in one chunk."""
        script = self.server.script
        delta: dict[str, str] = {}
        for index in indices:
            for key, text in script.delta(index, script.token_text(index)).items():
                delta[key] = delta.get(key, "") + text
        return delta

    def _respond_whole(self, received: ReceivedRequest, n_tokens: int, finish_reason: str) -> None:
        script = self.server.script
        deadline = self._token_deadline(received, n_tokens - 1)
        self._wait_until(deadline)
        payload: dict[str, Any] = {
            "id": "chatcmpl-fixture",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": script.model_id,
            "choices": [{
                "index": 0,
                script.whole_field: {"role": "assistant", **script.wire_delta(self._chunk_delta(range(n_tokens)))},
                "finish_reason": finish_reason,
            }],
            **self._extras(received),
        }
        if script.usage:
            payload["usage"] = script.usage_report(n_tokens, received.cached)
        received.completed = self._sending_at(received, deadline)
        self.send_json(200, payload)

    def _chunk_starts(self, n_tokens: int) -> list[int]:
        """The first token index of each chunk."""
        script = self.server.script
        if script.burst:
            return [0] if n_tokens else []
        return list(range(0, n_tokens, script.tokens_per_chunk))

    def _stream(self, received: ReceivedRequest, n_tokens: int, finish_reason: str, send_usage: bool) -> None:
        script = self.server.script
        self.start_chunked(script.content_type)
        if script.sse_extras:
            self.write_chunk(": keep-alive comment\nretry: 3000\n\nevent: ping\nid: 7\n\n:\n\n")
        self._send_chunk({"role": "assistant", "content": ""}, None)
        if script.mode in ("error_line", "error_data"):
            error = json.dumps(CONTEXT_ERROR)
            line = f"error: {error}" if script.mode == "error_line" else f'data: {{"error": {error}}}'
            self.write_chunk(line + "\n\n")
            self.send_event("[DONE]")
            received.completed = self._sending_at(received, received.arrived)
            self.end_chunked()
            return
        starts = self._chunk_starts(n_tokens)
        for number, first in enumerate(starts):
            if script.mode == "cut_stream" and first >= script.cut_after:
                self.close_connection = True  # leave without the terminating chunk: an incomplete body
                return
            last = (starts[number + 1] if number + 1 < len(starts) else n_tokens) - 1
            deadline = self._token_deadline(received, last if script.burst else first)
            self._wait_until(deadline)
            received.token_sent.append(self._sending_at(received, deadline))
            self._send_chunk(script.wire_delta(self._chunk_delta(range(first, last + 1))), None)
            if script.sse_extras:
                self.write_chunk(f"id: {number}\n: between tokens\n\n")
        if script.mode == "unfinished":
            self.end_chunked()
            return
        self._send_final_chunk(finish_reason)
        closing = self._token_deadline(received, n_tokens - 1) + script.tail_s  # the stream ends tail_s later
        self._wait_until(closing)
        # Noted before the last events are written: a client may see [DONE] before this thread runs again.
        received.completed = self._sending_at(received, closing)
        if send_usage:
            self.send_event({**self._chunk_envelope(), "choices": [],
                             "usage": script.usage_report(n_tokens, received.cached), **self._extras(received)})
        self.send_event("[DONE]")
        self.end_chunked()

    def _chunk_envelope(self) -> dict[str, Any]:
        return self.chunk_envelope(self.server.script.model_id)

    def _send_chunk(self, delta: dict[str, Any], finish_reason: str | None) -> None:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        self.send_event({**self._chunk_envelope(), "choices": [choice]})

    def _send_final_chunk(self, finish_reason: str) -> None:
        """The chunk carrying the finish reason, with an empty, null or missing delta."""
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason}
        if self.server.script.final_delta != "missing":
            choice["delta"] = None if self.server.script.final_delta == "null" else {}
        self.send_event({**self._chunk_envelope(), "choices": [choice]})


def _base_url(server: _FixtureHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@contextmanager
def serve(script: Script, port: int = 0) -> Iterator[str]:
    """Run the scripted server in a background thread; yields its root URL (append `/v1` for an OpenAI client)."""
    server = _FixtureHTTPServer(("127.0.0.1", port), script)
    thread = threading.Thread(target=server.serve_forever, name="fixture-server", daemon=True)
    thread.start()
    try:
        yield _base_url(server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible chat server for timing tests.")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (printed on start)")
    parser.add_argument("--model-id", default=Script.model_id)
    parser.add_argument("--ttft-ms", type=float, default=Script.ttft_s * 1000)
    parser.add_argument("--gap-ms", type=float, default=Script.gap_s * 1000)
    parser.add_argument("--tokens", type=int, default=Script.tokens)
    parser.add_argument("--no-usage", action="store_true", help="never report token usage")
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--cut-after", type=int, default=Script.cut_after)
    parser.add_argument("--case", help="serve a case of issue #10 instead (tests/field/cases.py), e.g. burst")
    args = parser.parse_args()
    if args.case:
        from tests.field.cases import BY_NAME

        script = BY_NAME[args.case].script()
    else:
        script = Script(model_id=args.model_id, ttft_s=args.ttft_ms / 1000, gap_s=args.gap_ms / 1000,
                        tokens=args.tokens, usage=not args.no_usage, mode=args.mode, cut_after=args.cut_after)
    with serve(script, port=args.port) as base_url:
        print(f"fixture server on {base_url} (OpenAI base_url {base_url}/v1); Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
