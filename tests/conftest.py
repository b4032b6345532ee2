"""Shared fixtures: one real Foundry Local runtime per test process, on a free port, with the bundled models."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("FOUNDRY_LAB_PORT", "0")

SMOL = "smollm2-135m-instruct-int4"


@pytest.fixture(scope="session")
def lab():
    """The started in-process runtime; fails (does not skip) when setup has not built the bundled models."""
    from helpers.serve import runtime

    rt = runtime.start(quiet=True)
    assert SMOL in rt.bundled, "bundled models are not built: run `python -m helpers setup` first"
    return rt


@pytest.fixture
def smol(lab):
    """SmolLM2 int4, loaded (a no-op when an earlier test left it loaded)."""
    from helpers.serve import runtime

    model, _ = runtime.get_model(SMOL, runtime=lab)
    runtime.load(model)
    return model


@pytest.fixture
def served_smol(lab):
    """`python -m helpers serve` for SmolLM2 int4 in another process; yields (root URL, server pid)."""
    import subprocess
    import sys
    import time

    from helpers.core import paths

    server = subprocess.Popen([sys.executable, "-m", "helpers", "serve", "--models", SMOL, "--port", "0"],
                              cwd=paths.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "FOUNDRY_LAB_PORT": "0"})
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line, "serve exited early"
            if line.startswith("Serving OpenAI-compatible API at "):
                url = line.split(" at ")[1].split("/v1")[0]
        assert url and url.startswith("http://127.0.0.1:"), "serve did not report its URL in time"
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def app_service_url():
    """The Foundry Local app service emulator (tests/app_service_emulator.py) in another process; yields its URL.

    One per test module: what a module downloads or loads there (the service's state) never leaks into another.

    Its SmolLM2 int4 variant answers with the real bundled model; phi-4-mini is scripted and starts uncached.
    """
    import subprocess
    import sys
    import time

    from helpers.core import paths

    server = subprocess.Popen([sys.executable, str(paths.REPO_ROOT / "tests" / "app_service_emulator.py"), "--port", "0"],
                              cwd=paths.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        line = server.stdout.readline()
        assert line.startswith("Foundry Local service emulator at ") and time.monotonic() < deadline, line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
