"""The collector: a small HTTP server the instructor runs and attendees send their share bundle to.

`foundry-lab collect --code CODE [--port 8765] [--host 127.0.0.1] [--folder DIR]` serves

- `POST /bundles` with the header `X-Join-Code: CODE` and a bundle as the body: 201 and the bundle's id when
  accepted (kept as `<received>-<bundle_id>.share.json` in the folder: every accepted bundle is kept, none is
  overwritten, the file name comes from the collector, never from the sender); 401 for a missing or wrong join
  code (compared in constant time), 411 without Content-Length, 413 over MAX_BUNDLE_BYTES (refused before the
  body is read), 400 for a malformed bundle with the reason (`bundle.parse_bundle`). A bundle is stored as the
  re-serialized validated data: nothing in it is executed, followed or used as a path.
- `GET /` : `{"collector": "foundry-lab", "bundles": N}` (no bundle content).

It binds 127.0.0.1 unless `--host` says otherwise (a classroom network: `--host 0.0.0.0`, with the join code
given out in the room). `send_bundle(path, url, code)` is the attendee's side (`foundry-lab share RUN --to URL`).
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..core.errors import ClearError
from .bundle import BUNDLE_SUFFIX, MAX_BUNDLE_BYTES, BundleError, parse_bundle

DEFAULT_PORT = 8765
CODE_HEADER = "X-Join-Code"
BUNDLES_PATH = "/bundles"
SEND_TIMEOUT_S = 30.0


class SendError(ClearError, ConnectionError):
    """The collector refused the bundle or could not be reached; the message says which and why."""


class Collector(ThreadingHTTPServer):
    """The collector on (host, port) (port 0: a free one), keeping accepted bundles in `folder`."""

    daemon_threads = True

    def __init__(self, folder: Path, code: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 max_bytes: int = MAX_BUNDLE_BYTES) -> None:
        if not code:
            raise ClearError("collect needs a join code (--code): attendees send it with their bundle.")
        self.folder, self.code, self.max_bytes = Path(folder), code, max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def accepted(self) -> int:
        return sum(1 for _ in self.folder.glob(f"*{BUNDLE_SUFFIX}"))

    def keep(self, data: dict[str, Any], bundle_id: str) -> Path:
        """Store one accepted bundle under a new name (never overwriting)."""
        with self._lock:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            path = self.folder / f"{stamp}-{bundle_id}{BUNDLE_SUFFIX}"
            path.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
            return path


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def log_message(self, *args: Any) -> None:  # one line per bundle is printed by `_answer`
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") in ("", "/"):
            self._answer(200, {"collector": "foundry-lab", "bundles": self.server.accepted()})
        else:
            self._answer(404, {"error": f"no such path {self.path[:100]!r}: send bundles to POST {BUNDLES_PATH}"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path.rstrip("/") != BUNDLES_PATH:
            self._answer(404, {"error": f"send bundles to POST {BUNDLES_PATH}"}, drain=True)
            return
        code = self.headers.get(CODE_HEADER, "")
        if not hmac.compare_digest(code.encode(), self.server.code.encode()):
            self._answer(401, {"error": f"wrong or missing join code ({CODE_HEADER} header): ask the instructor"},
                         drain=True)
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._answer(411, {"error": "a bundle needs a Content-Length"})
            return
        if int(length) > self.server.max_bytes:
            self._answer(413, {"error": f"bundle of {int(length):,} bytes is over the limit of "
                                        f"{self.server.max_bytes:,} bytes"})
            return
        try:
            bundle = parse_bundle(self.rfile.read(int(length)), "the bundle", self.server.max_bytes)
        except BundleError as exc:
            self._answer(400, {"error": str(exc)})
            return
        path = self.server.keep(bundle.model_dump(mode="json"), bundle.bundle_id)
        print(f"accepted {bundle.bundle_id} ({bundle.machine.machine_class}, {len(bundle.models)} models) "
              f"-> {path.name}", flush=True)
        self._answer(201, {"accepted": bundle.bundle_id, "bundles": self.server.accepted()})

    def _answer(self, status: int, payload: dict[str, Any], drain: bool = False) -> None:
        if drain:  # read a small body so the client sees the answer, not a reset; a large one is not read
            length = self.headers.get("Content-Length", "0")
            if length.isdigit() and int(length) <= self.server.max_bytes:
                self.rfile.read(int(length))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def serve(folder: str | Path, code: str | None, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """`foundry-lab collect`: run the collector until Ctrl-C (a random join code when none is given)."""
    code = code or secrets.token_urlsafe(6)
    collector = Collector(Path(folder), code, host, port)
    print(f"Collecting share bundles at {collector.url}{BUNDLES_PATH} into {collector.folder} "
          f"(join code: {code}). Attendees run: foundry-lab share RUN --to {collector.url} --code {code}", flush=True)
    try:
        collector.serve_forever()
    except KeyboardInterrupt:
        print(f"stopped: {collector.accepted()} bundles in {collector.folder}")
    finally:
        collector.server_close()


def send_bundle(path: str | Path, url: str, code: str) -> str:
    """POST a bundle file to a collector; returns the accepted bundle id. SendError with the collector's reason."""
    target = url.rstrip("/")
    target = target if target.endswith(BUNDLES_PATH) else target + BUNDLES_PATH
    request = urllib.request.Request(target, data=Path(path).read_bytes(), method="POST",
                                     headers={"Content-Type": "application/json", CODE_HEADER: code})
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as reply:
            return json.load(reply)["accepted"]
    except urllib.error.HTTPError as exc:
        try:
            reason = json.load(exc).get("error", "")
        except ValueError:
            reason = exc.reason
        raise SendError(f"the collector at {url} refused the bundle (HTTP {exc.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SendError(f"cannot reach the collector at {url} ({getattr(exc, 'reason', exc)}): check the URL the "
                        "instructor gave") from None
