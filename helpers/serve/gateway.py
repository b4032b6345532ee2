"""The kit's served API: a loopback front door for Foundry Local's built-in web service that speaks aliases.

Foundry Local's web service names a model by its variant id (`smollm2-135m-instruct-int4:1`) and answers 404 to
the alias, while the catalog, the picker, `--models` and the seed's scripts all use the alias. The front listens on
the kit's port (127.0.0.1 only) and forwards every request to the web service, which the runtime binds to a free
loopback port behind it. On the way it

- rewrites the `model` of OpenAI requests (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`,
  `/v1/responses`, `GET /v1/models/{model}`) from alias to variant id; ids pass through unchanged;
- lists aliases in `GET /v1/models`: the `id` is what a client should send, `foundry_id` the variant behind it;
- streams response bodies through as they arrive (server-sent events stay token by token);
- identifies itself: the `X-Foundry-Lab` header on every answer and `GET /foundry-lab` (kit, pid, URL, role,
  models), so another kit process can tell the kit's server from a foreign program on the port (`whois`).
"""
from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

KIT_NAME = "foundry-model-lab"
KIT_HEADER = "X-Foundry-Lab"
INFO_PATH = "/foundry-lab"
MODEL_BODY_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses")
BACKEND_TIMEOUT_S = 600.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade",
               "proxy-authenticate", "proxy-authorization"}


class Front(ThreadingHTTPServer):
    """The front door on 127.0.0.1:`port` (0 = a free port) for the web service at `backend_url`.

    `role` says who runs it (`serve`, `kernel`, ...) for `GET /foundry-lab`; `models()` lists the aliases the
    process has loaded, for the same answer. Raises OSError when the port is taken (see `whois`).
    """

    daemon_threads = True

    def __init__(self, port: int, backend_url: str, role: str, models: Callable[[], list[str]] = list) -> None:
        super().__init__(("127.0.0.1", port), _FrontHandler)
        backend = urlsplit(backend_url)
        self.backend_host, self.backend_port = backend.hostname or "127.0.0.1", backend.port or 80
        self.backend_url = backend_url.rstrip("/")
        self.role = role
        self.models = models
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, name="foundry-lab-front", daemon=True).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (the openai client closing its keep-alive connection) is not an error worth a
        traceback on the attendee's screen; anything else is reported as http.server does."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def info(self) -> dict[str, Any]:
        """What `GET /foundry-lab` answers."""
        return {"kit": KIT_NAME, "pid": os.getpid(), "url": self.url, "role": self.role, "models": self.models()}

    def variant_id(self, name: str) -> str:
        """The variant id the web service knows for an alias (its list is asked again only for a name that is
        neither a known alias nor a known id); other names unchanged."""
        with self._lock:
            if name not in self._ids and name not in self._ids.values():
                self._ids = {alias: ids[0] for alias, ids in _by_alias(self._backend_ids()).items()}
            return self._ids.get(name, name)

    def _backend_ids(self) -> list[str]:
        with urllib.request.urlopen(f"{self.backend_url}/v1/models", timeout=30) as reply:
            return [item["id"] for item in json.load(reply).get("data", [])]


def _by_alias(ids: list[str]) -> dict[str, list[str]]:
    """Variant ids grouped by alias (the id before `:version`), highest version first."""
    grouped: dict[str, list[str]] = {}
    for model_id in ids:
        grouped.setdefault(model_id.split(":")[0], []).append(model_id)
    return {alias: sorted(found, key=_version, reverse=True) for alias, found in grouped.items()}


def _version(model_id: str) -> int:
    tail = model_id.rpartition(":")[2]
    return int(tail) if tail.isdigit() else -1


class _FrontHandler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # the kit prints its own lines
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        path = self.path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.rstrip("/") == INFO_PATH:
            self._send_json(200, self.server.info())
            return
        if self.command == "GET" and path.split("?")[0].rstrip("/") == "/v1/models":
            self._list_models()
            return
        if self.command == "GET" and path.startswith("/v1/models/"):
            path = "/v1/models/" + quote(self.server.variant_id(unquote(path.removeprefix("/v1/models/"))), safe=":")
        if self.command == "POST" and path.split("?")[0].rstrip("/") in MODEL_BODY_PATHS:
            body = self._with_variant_id(body)
        self._forward(path, body)

    def _with_variant_id(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except ValueError:
            return body  # not JSON: the web service answers with its own error
        if isinstance(request, dict) and isinstance(request.get("model"), str):
            request["model"] = self.server.variant_id(request["model"])
            return json.dumps(request).encode()
        return body

    def _list_models(self) -> None:
        try:
            with urllib.request.urlopen(f"{self.server.backend_url}/v1/models", timeout=30) as reply:
                listed = json.load(reply)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._send_json(502, {"error": {"message": f"the Foundry Local web service did not answer: {exc}"}})
            return
        items = listed.get("data", [])
        best = {alias: ids[0] for alias, ids in _by_alias([item["id"] for item in items]).items()}
        aliased = [{**item, "id": alias, "foundry_id": item["id"]} for item in items
                   for alias in [item["id"].split(":")[0]] if best.get(alias) == item["id"]]
        self._send_json(200, {**listed, "data": aliased})

    def _forward(self, path: str, body: bytes) -> None:
        connection = http.client.HTTPConnection(self.server.backend_host, self.server.backend_port,
                                                timeout=BACKEND_TIMEOUT_S)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP | {"host"}}
        try:
            connection.request(self.command, path, body=body or None, headers=headers)
            reply = connection.getresponse()
        except OSError as exc:
            self._send_json(502, {"error": {"message": f"the Foundry Local web service did not answer: {exc}"}})
            return
        try:
            self.send_response(reply.status, reply.reason)
            for name, value in reply.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header(KIT_HEADER, KIT_NAME)
            length = reply.getheader("Content-Length")
            if length is not None and not reply.chunked:
                data = reply.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while data := reply.read1(65536):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            connection.close()

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(KIT_HEADER, KIT_NAME)
        self.end_headers()
        self.wfile.write(data)


def whois(port: int, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """What holds 127.0.0.1:`port`: the kit's `GET /foundry-lab` answer, `{}` for a foreign program, None if free."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{INFO_PATH}", timeout=timeout_s) as reply:
            info = json.load(reply)
            return info if isinstance(info, dict) and info.get("kit") == KIT_NAME else {}
    except urllib.error.HTTPError:
        return {}  # something answers HTTP there, and it is not the kit
    except (urllib.error.URLError, OSError, ValueError) as exc:
        refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
        return None if refused else {}


def port_taken_message(port: int, holder: dict[str, Any]) -> str:
    """The one clear sentence for a taken port, naming who holds it and what to do."""
    if holder.get("kit") == KIT_NAME:
        models = ", ".join(holder.get("models") or []) or "no models loaded yet"
        return (f"The kit already serves on 127.0.0.1:{port} (process {holder.get('pid')}, {holder.get('role')}; "
                f"{models}): point clients at {holder.get('url')}/v1, or stop that process first, or pick another "
                "port with --port 0 (any free port).")
    return (f"Port {port} on 127.0.0.1 is used by another program (not this kit; often the Foundry Local app: "
            "`foundry service status` shows its port). Use it with FOUNDRY_LOCAL_ENDPOINT, or pick another port "
            "with --port 0 / FOUNDRY_LAB_PORT=0 (any free port).")
