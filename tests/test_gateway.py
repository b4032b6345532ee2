"""The kit's front door on the served port: aliases, streaming through, and telling the kit from foreign programs."""
from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from helpers.core import paths
from helpers.measure.timing import time_openai_chat
from helpers.serve import endpoints, gateway, runtime

SMOL = "smollm2-135m-instruct-int4"
HELLO = [{"role": "user", "content": "Say hello."}]


class _Foreign(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def foreign_port():
    """A program that is not the kit, answering HTTP on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Foreign)
    Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_whois_tells_the_kit_from_a_foreign_program_and_a_free_port(lab, foreign_port):
    url = runtime.web_service_url(lab)
    port = int(url.rsplit(":", 1)[1])
    kit = gateway.whois(port)
    assert kit["kit"] == gateway.KIT_NAME and kit["url"] == url and kit["pid"] > 0
    assert gateway.whois(foreign_port) == {}
    assert gateway.whois(_free_port()) is None
    with urllib.request.urlopen(url + "/v1/models", timeout=10) as reply:
        assert reply.headers[gateway.KIT_HEADER] == gateway.KIT_NAME


def test_streamed_answers_pass_through_token_by_token(lab, smol):
    client = endpoints.openai_client(runtime.web_service_url(lab))
    trial = time_openai_chat(client, SMOL, HELLO, max_tokens=24)
    assert trial.error is None and trial.tokens_source == "usage"
    assert len(trial.token_times) >= trial.output_tokens - 1 > 5, "the front must not buffer the stream"


@pytest.mark.parametrize("holder", ["kit", "foreign"])
def test_serve_on_a_taken_port_says_who_holds_it_without_a_traceback(holder, served_smol, foreign_port):
    port = int(served_smol[0].rsplit(":", 1)[1]) if holder == "kit" else foreign_port
    run = subprocess.run([sys.executable, "-m", "helpers", "serve", "--models", SMOL, "--port", str(port)],
                         cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    expected = "The kit already serves on" if holder == "kit" else "is used by another program (not this kit"
    assert expected in run.stderr and str(port) in run.stderr
