"""A loopback emulator of the Foundry Local app's service (the `foundry` CLI's background service), for tests.

It answers the documented REST API of that service (Foundry-Local repository, docs/reference/reference-rest.md)
plus the catalog route the Foundry Local SDK 0.x reads, with the shapes those documents give:

- `GET /foundry/list`: the catalog, one object per model variant (`name` = id with `:version`, `alias`,
  `displayName`, `runtime.deviceType` / `runtime.executionProvider`, `fileSizeMb`, `license`, `task`, ...).
- `POST /openai/download` `{"model": NAME or {"Name": ...}}`: streams `("file name", fraction)` progress lines,
  then the JSON result `{"Success": true, "ErrorMessage": null}`.
- `GET /openai/models` (cached model ids), `GET /openai/loadedmodels` (loaded ids), `GET /openai/status`
  (`Endpoints`, `ModelDirPath`, `PipeName`).
- `GET /openai/load/{name}?ttl=&ep=`: ep one of cpu, cuda, dml, qnn, webgpu; an ep this machine lacks is a 500.
  `GET /openai/unload/{name}?force=true`.
- `POST /v1/chat/completions/tokenizer/encode/count` -> `{"tokenCount": n}`.
- `GET /v1/models`, `POST /v1/chat/completions` (streamed as server-sent events, or one JSON body). The model
  must be loaded (400 otherwise, like the in-process web service); it is named by id or alias.
- The v2 embedded service's routes (`/models/load/...`, `/status`) are 404 here, as on the app's service.

Chat answers come from a real bundled model through the kit's in-process runtime (the variants marked `bundled`),
or from a script (the others): a fixed sentence, one word per chunk. `GET /emulator/requests` returns every
request received (method, path, query, whether it carried a bearer key), so a test can check what reached the
service.

Run `python tests/app_service_emulator.py [--port 0] [--eps cpu]`: prints `Foundry Local service emulator at URL`.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SCRIPTED_ANSWER = "Local inference keeps data on the device, works offline and avoids per-token costs."
EP_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "dml": "DmlExecutionProvider",
            "qnn": "QNNExecutionProvider", "webgpu": "WebGpuExecutionProvider"}


@dataclass
class Variant:
    """One catalog entry of the service."""

    name: str  # id, with :version
    alias: str
    display_name: str
    device: str  # CPU | GPU | NPU
    ep: str  # cpu | cuda | ...
    size_mb: int
    license: str
    bundled: str | None = None  # a bundled model that answers for it; None: scripted
    cached: bool = False
    files: tuple[str, ...] = ("genai_config.json", "model.onnx", "model.onnx.data", "tokenizer.json")

    def entry(self) -> dict[str, Any]:
        """The `/foundry/list` object (field names as the Foundry Local SDK 0.x FoundryListResponseModel)."""
        return {
            "name": self.name, "displayName": self.display_name, "modelType": "ONNX", "providerType": "AzureFoundry",
            "uri": f"azureml://registries/azureml/models/{self.name.split(':')[0]}/versions/{self.name.split(':')[1]}",
            "version": self.name.split(":")[1], "promptTemplate": {}, "publisher": "Microsoft",
            "task": "chat-completion", "runtime": {"deviceType": self.device, "executionProvider": EP_NAMES[self.ep]},
            "fileSizeMb": self.size_mb, "modelSettings": {"parameters": []}, "alias": self.alias,
            "supportsToolCalling": False, "license": self.license, "licenseDescription": f"{self.license} license",
            "parentModelUri": "", "maxOutputTokens": 2048, "minFLVersion": "0.5.0",
        }


def default_catalog() -> list[Variant]:
    """SmolLM2 int4 (a real bundled model, cached, with a CUDA variant) and phi-4-mini (scripted, not cached)."""
    smol = "smollm2-135m-instruct-int4"
    return [
        Variant(f"{smol}-generic-cpu:1", smol, "SmolLM2 135M Instruct (int4)", "CPU", "cpu", 90, "apache-2.0",
                bundled=smol, cached=True),
        Variant(f"{smol}-cuda-gpu:1", smol, "SmolLM2 135M Instruct (int4)", "GPU", "cuda", 95, "apache-2.0",
                bundled=smol),
        Variant("Phi-4-mini-instruct-generic-cpu:1", "phi-4-mini", "Phi-4-mini-instruct", "CPU", "cpu", 4915, "MIT"),
    ]


@dataclass
class ServiceState:
    """What the service holds: catalog, cache, loaded models (with their ep), and the request log."""

    catalog: list[Variant]
    eps: tuple[str, ...] = ("cpu",)
    loaded: dict[str, str] = field(default_factory=dict)  # id -> ep
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _models: dict[str, Any] = field(default_factory=dict)

    def find(self, name: str) -> Variant | None:
        """By id (with or without :version) or alias; for an alias, the CPU variant (as the service on Linux)."""
        for variant in self.catalog:
            if name in (variant.name, variant.name.split(":")[0]):
                return variant
        by_alias = [v for v in self.catalog if v.alias == name]
        return next((v for v in by_alias if v.ep == "cpu"), by_alias[0] if by_alias else None)

    def bundled_model(self, variant: Variant) -> Any:
        """The kit's in-process model behind a bundled variant (the runtime starts on first use)."""
        if variant.bundled not in self._models:
            from helpers.serve import runtime

            self._models[variant.bundled] = runtime.get_model(variant.bundled, "cpu", runtime.start(quiet=True))[0]
        return self._models[variant.bundled]


class _Handler(BaseHTTPRequestHandler):
    server: "EmulatorServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _empty(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "code": status}})

    def _chunked_start(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _chunked_end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        state = self.server.state
        with state.lock:
            state.requests.append({"method": method, "path": url.path, "query": query,
                                   "authorized": self.headers.get("Authorization", "").startswith("Bearer ")})
        handler = getattr(self, f"_{method.lower()}_{url.path.strip('/').split('/')[0]}", None)
        if handler is None:
            self._error(404, f"no route {method} {url.path}")
            return
        handler(url.path, query)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    # --- routes ---------------------------------------------------------------------------------------------------

    def _get_emulator(self, path: str, query: dict[str, str]) -> None:
        with self.server.state.lock:
            self._json(200, list(self.server.state.requests))

    def _get_foundry(self, path: str, query: dict[str, str]) -> None:
        if path.rstrip("/") != "/foundry/list":
            self._error(404, f"no route GET {path}")
            return
        self._json(200, [v.entry() for v in self.server.state.catalog])

    def _get_openai(self, path: str, query: dict[str, str]) -> None:
        state = self.server.state
        parts = path.strip("/").split("/", 2)
        action, name = parts[1] if len(parts) > 1 else "", unquote(parts[2]) if len(parts) > 2 else ""
        if action == "status":
            self._json(200, {"Endpoints": [self.server.url], "ModelDirPath": str(self.server.model_dir),
                             "PipeName": "inference_agent"})
        elif action == "models":
            self._json(200, [v.name for v in state.catalog if v.cached])
        elif action == "loadedmodels":
            self._json(200, list(state.loaded))
        elif action == "load" and name:
            self._load(name, query)
        elif action == "unload" and name:
            self._unload(name)
        else:
            self._error(404, f"no route GET {path}")

    def _load(self, name: str, query: dict[str, str]) -> None:
        state = self.server.state
        variant = state.find(name)
        if variant is None:
            self._error(404, f"Model {name} not found in the catalog")
            return
        if not variant.cached:
            self._error(400, f"Model {variant.name} is not downloaded. Download it first.")
            return
        ep = (query.get("ep") or variant.ep).lower()
        if ep not in EP_NAMES or ep not in state.eps:
            self._error(500, f"Failed to load {variant.name}: execution provider '{ep}' is not available on this "
                             f"device (available: {', '.join(state.eps)})")
            return
        if variant.bundled:
            from helpers.serve import runtime

            runtime.load(state.bundled_model(variant))
        else:
            time.sleep(0.05)  # a scripted model "loads" quickly
        state.loaded[variant.name] = ep
        self._empty()

    def _unload(self, name: str) -> None:
        state = self.server.state
        variant = state.find(name)
        if variant is None or variant.name not in state.loaded:
            self._empty()  # unloading what is not loaded is not an error
            return
        state.loaded.pop(variant.name)
        if variant.bundled and not any(state.find(n).bundled == variant.bundled for n in state.loaded):
            from helpers.serve import runtime

            runtime.unload(state.bundled_model(variant))
        self._empty()

    def _post_openai(self, path: str, query: dict[str, str]) -> None:
        if path.rstrip("/") != "/openai/download":
            self._error(404, f"no route POST {path}")
            return
        body = self._body()
        requested = body.get("model")
        name = requested.get("Name") if isinstance(requested, dict) else requested
        variant = self.server.state.find(str(name or ""))
        self._chunked_start("text/plain; charset=utf-8")
        if variant is None:
            self._chunk(json.dumps({"Success": False, "ErrorMessage": f"Model {name} not found in the catalog"}))
        else:
            if not variant.cached:
                steps = 4
                for file in variant.files:
                    for step in range(1, steps + 1):
                        done = (variant.files.index(file) + step / steps) / len(variant.files)
                        self._chunk(f'("{file}", {done:.3f})\n')
                        time.sleep(0.01)
                variant.cached = True
            self._chunk('("", 1)\n')
            self._chunk(json.dumps({"Success": True, "ErrorMessage": None}))
        self._chunked_end()

    def _get_v1(self, path: str, query: dict[str, str]) -> None:
        if path.rstrip("/") != "/v1/models":
            self._error(404, f"no route GET {path}")
            return
        listed = [v for v in self.server.state.catalog if v.cached]
        self._json(200, {"object": "list", "data": [{"id": v.name, "object": "model", "created": 0,
                                                      "owned_by": "Microsoft"} for v in listed]})

    def _post_v1(self, path: str, query: dict[str, str]) -> None:
        route = path.rstrip("/")
        body = self._body()
        if route == "/v1/chat/completions/tokenizer/encode/count":
            words = sum(len(str(m.get("content", "")).split()) + 4 for m in body.get("messages", []))
            self._json(200, {"tokenCount": words})
        elif route == "/v1/chat/completions":
            self._chat(body)
        else:
            self._error(404, f"no route POST {path}")

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        variant = state.find(str(body.get("model", "")))
        if variant is None:
            self._error(404, f"No model matching '{body.get('model')}'")
            return
        if variant.name not in state.loaded:
            self._error(400, f"Model not loaded: {variant.name}. Load it with /openai/load/{variant.name}")
            return
        max_tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 256)
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> str:
            choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
            payload = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": variant.name,
                       "choices": choices, **({"usage": usage} if usage else {})}
            return f"data: {json.dumps(payload)}\n\n"

        if stream:
            self._chunked_start("text/event-stream")
            self._chunk(chunk({"role": "assistant"}))
        parts, finish, usage = self._answer(variant, body.get("messages", []), max_tokens,
                                            (lambda text: self._chunk(chunk({"content": text}))) if stream else None)
        if stream:
            self._chunk(chunk({}, finish))
            if include_usage:
                self._chunk(chunk({}, usage=usage))
            self._chunk("data: [DONE]\n\n")
            self._chunked_end()
            return
        self._json(200, {"id": chunk_id, "object": "chat.completion", "created": created, "model": variant.name,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(parts)},
                                      "finish_reason": finish}], "usage": usage})

    def _answer(self, variant: Variant, messages: list[dict], max_tokens: int, on_token: Any) -> tuple[list[str], str, dict]:
        """The answer's parts, finish reason and usage: from the bundled model, or scripted."""
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages) + 4
        if variant.bundled:
            from helpers.measure.timing import time_inprocess_chat

            timing = time_inprocess_chat(self.server.state.bundled_model(variant), messages, max_tokens=max_tokens,
                                         on_token=on_token)
            parts, finish = [timing.text], timing.finish_reason or "stop"
            completion, prompt_tokens = timing.output_tokens or 0, timing.prompt_tokens or prompt_tokens
        else:
            words = [(" " if i else "") + w for i, w in enumerate(SCRIPTED_ANSWER.split())][:max_tokens]
            for word in words:
                time.sleep(0.005)
                if on_token:
                    on_token(word)
            parts, completion = words, len(words)
            finish = "length" if len(words) == max_tokens else "stop"
        return parts, finish, {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                               "total_tokens": prompt_tokens + completion}


class EmulatorServer(ThreadingHTTPServer):
    """The emulator bound to 127.0.0.1 (daemon handler threads)."""

    daemon_threads = True

    def __init__(self, port: int, state: ServiceState, model_dir: Path) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state
        self.model_dir = model_dir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--eps", default="cpu", help="execution providers this 'machine' has, e.g. cpu,cuda")
    parser.add_argument("--model-dir", default=str(Path.home() / ".foundry" / "cache" / "models"))
    args = parser.parse_args(argv)
    state = ServiceState(default_catalog(), eps=tuple(e.strip() for e in args.eps.split(",") if e.strip()))
    server = EmulatorServer(args.port, state, Path(args.model_dir))
    print(f"Foundry Local service emulator at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `helpers`, when run as a script
    sys.exit(main())
