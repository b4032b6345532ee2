"""A scripted OpenAI-compatible chat server on 127.0.0.1 for measuring the measurement code.

It answers `GET /v1/models` and `POST /v1/chat/completions` (streamed as server-sent events over chunked
transfer encoding, like real servers, or as one JSON body) on a precise schedule:
first content token `ttft_s` after the request arrives, then one token every `gap_s` (absolute deadlines, so no
drift). Like Foundry Local, the first streamed chunk carries only the role, and usage comes in a last chunk with
empty `choices` only when the client asks for it with `stream_options.include_usage`.

Modes: "normal"; "cut_stream" closes the connection after `cut_after` tokens without finishing the body;
"http_500" answers every chat request with an error. Each received request is appended to `script.received`,
with the server's own timestamps (arrival, each token written, response complete; perf_counter, so directly
comparable with an in-process client's) and how far the server fell behind its script.

Use `with serve(Script(...)) as base_url:` (the root URL, without `/v1`, as Foundry Local reports it), or run
`python tests/fixture_server.py --port N --ttft-ms 200 --gap-ms 20 --tokens 30 [--no-usage] [--mode cut_stream]`.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("normal", "cut_stream", "http_500")


@dataclass
class ReceivedRequest:
    """One request as the server saw it. Times are perf_counter() values: the same clock as an in-process client."""

    method: str
    path: str
    body: dict[str, Any] | None
    arrived: float  # the request had been read
    token_sent: list[float] = field(default_factory=list)  # each content token was about to be written (streamed)
    completed: float | None = None  # the last bytes of the response were about to be written
    lateness_s: float = 0.0  # how far the server fell behind its script (e.g. under load from other processes)


@dataclass
class Script:
    """What the server does; `received` fills up as requests arrive."""

    model_id: str = "fixture-model:1"
    ttft_s: float = 0.2
    gap_s: float = 0.02
    tokens: int = 30  # answer length before max_tokens is applied
    usage: bool = True  # report usage (streamed only when the client asks for it)
    mode: str = "normal"
    cut_after: int = 5  # tokens sent before the connection is cut (mode "cut_stream")
    prompt_tokens: int = 17
    received: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    def token_text(self, index: int) -> str:
        return f" tok{index}"


class _FixtureHTTPServer(ThreadingHTTPServer):
    """Handler threads are daemons (ThreadingHTTPServer default), so shutdown never waits on a sleeping stream."""

    def __init__(self, address: tuple[str, int], script: Script) -> None:
        super().__init__(address, _ChatHandler)
        self.script = script
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (timeout, closed keep-alive connection) is routine here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY, as real servers set: small SSE writes must not wait for ACKs
    server: _FixtureHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.script.received.append(ReceivedRequest("GET", self.path, None, time.perf_counter()))
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.script.model_id, "object": "model", "created": 0, "owned_by": "fixture"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        received = ReceivedRequest("POST", self.path, body, time.perf_counter())
        script = self.server.script
        script.received.append(received)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        if script.mode == "http_500":
            self._send_json(500, {"error": {"message": "scripted failure", "type": "server_error"}})
            return
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        n_tokens = script.tokens if limit is None else min(script.tokens, limit)
        finish_reason = "stop" if n_tokens == script.tokens else "length"  # the scripted answer ends after `tokens`
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(received, n_tokens, finish_reason, script.usage and include_usage)
        else:
            self._respond_whole(received, n_tokens, finish_reason)

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

    def _token_deadline(self, arrived: float, index: int) -> float:
        script = self.server.script
        return arrived + script.ttft_s + index * script.gap_s

    def _usage(self, n_tokens: int) -> dict[str, int]:
        prompt = self.server.script.prompt_tokens
        return {"prompt_tokens": prompt, "completion_tokens": n_tokens, "total_tokens": prompt + n_tokens}

    def _respond_whole(self, received: ReceivedRequest, n_tokens: int, finish_reason: str) -> None:
        script = self.server.script
        deadline = self._token_deadline(received.arrived, n_tokens - 1)
        self._wait_until(deadline)
        payload: dict[str, Any] = {
            "id": "chatcmpl-fixture",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": script.model_id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "".join(script.token_text(i) for i in range(n_tokens))},
                "finish_reason": finish_reason,
            }],
        }
        if script.usage:
            payload["usage"] = self._usage(n_tokens)
        received.completed = self._sending_at(received, deadline)
        self._send_json(200, payload)

    def _stream(self, received: ReceivedRequest, n_tokens: int, finish_reason: str, send_usage: bool) -> None:
        script = self.server.script
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._send_chunk({"role": "assistant", "content": ""}, None)
        for index in range(n_tokens):
            if script.mode == "cut_stream" and index == script.cut_after:
                self.close_connection = True  # leave without the terminating chunk: an incomplete body
                return
            deadline = self._token_deadline(received.arrived, index)
            self._wait_until(deadline)
            received.token_sent.append(self._sending_at(received, deadline))
            self._send_chunk({"content": script.token_text(index)}, None)
        self._send_chunk({}, finish_reason)
        if send_usage:
            self._send_event({**self._chunk_envelope(), "choices": [], "usage": self._usage(n_tokens)})
        self._send_event_data("[DONE]")
        received.completed = self._sending_at(received, self._token_deadline(received.arrived, n_tokens - 1))
        self.wfile.write(b"0\r\n\r\n")

    def _chunk_envelope(self) -> dict[str, Any]:
        return {"id": "chatcmpl-fixture", "object": "chat.completion.chunk", "created": 0,
                "model": self.server.script.model_id}

    def _send_chunk(self, delta: dict[str, Any], finish_reason: str | None) -> None:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        self._send_event({**self._chunk_envelope(), "choices": [choice]})

    def _send_event(self, payload: dict[str, Any]) -> None:
        self._send_event_data(json.dumps(payload))

    def _send_event_data(self, data: str) -> None:
        event = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


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
    args = parser.parse_args()
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
