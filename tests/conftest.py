"""Shared fixtures: one real Foundry Local runtime per test process, on a free port, with the bundled models;
and the test tiers, assigned to every collected test (`pytest -m unit` is the one-minute loop).

Tiers (markers registered in pytest.ini), one per test, decided here so that a new test lands in the right one
without anyone remembering. Of what applies, the heaviest wins (browser > notebook > model > cli > unit): an
explicit `@pytest.mark.<tier>` (function, class or module), `browser` under tests/browser, `notebook` for nbval's
notebook cells, `model` for a test that requests a fixture that starts the real runtime, builds models, or runs a
server that loads one (MODEL_FIXTURES, directly or through another fixture), a module's tier in PATH_TIERS; else
`unit`. A unit test that starts the Foundry Local runtime or a child process anyway fails at once, naming the
mark it needs.
"""
from __future__ import annotations

import os
import platform
import subprocess

import pytest

from tests import nbval_parameters

os.environ.setdefault("FOUNDRY_LAB_PORT", "0")
nbval_parameters.install()  # the suite's nbval runs of 04, 05 and 06 scaled down (tests/nbval_parameters.py)

SMOL = "smollm2-135m-instruct-int4"
TIERS = ("browser", "notebook", "model", "cli", "unit")
# real_home: builds; real_runs (test_classroom): benchmarks SmolLM2 in child processes, before the unit guard runs
MODEL_FIXTURES = frozenset({"lab", "smol", "served_smol", "app_service_url", "real_home", "real_runs"})
PATH_TIERS = {"tests/field/test_bench_paths.py": "cli"}  # modules whose tests (nearly) all run `helpers bench`


def tier_of(item: pytest.Item) -> str:
    """The tier of one collected test: the heaviest of what applies (a test is as slow as its slowest part)."""
    found = {mark.name for mark in item.iter_markers() if mark.name in TIERS}  # explicit, at any level
    if "browser" in item.path.parts:
        found.add("browser")
    if item.path.suffix == ".ipynb":
        found.add("notebook")
    if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
        found.add("model")
    module = item.path.relative_to(item.config.rootpath).as_posix()
    if module in PATH_TIERS:
        found.add(PATH_TIERS[module])
    return next((tier for tier in TIERS if tier in found), "unit")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier; a test explicitly marked with a lighter tier than it is is refused (`-m` would
    select it twice)."""
    for item in items:
        tier = tier_of(item)
        wrong = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS} - {tier})
        if wrong:
            raise pytest.UsageError(f"{item.nodeid} is marked {wrong} but its tier is {tier}: remove the mark")
        if item.get_closest_marker(tier) is None:
            item.add_marker(tier)


@pytest.fixture(autouse=True)
def unit_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a unit test, starting the Foundry Local runtime or any child process fails the test at once, saying which
    tier it belongs to: the fast tier loads no model and pays no interpreter start-ups. A run of only unit tests
    says at the end that the runtime never started (pytest_terminal_summary)."""
    if request.node.get_closest_marker("unit") is None:
        return
    from foundry_local_sdk import FoundryLocalManager

    nodeid = request.node.nodeid

    def refuse_runtime(*args: object, **kwargs: object) -> None:
        pytest.fail(f"{nodeid} is a unit test but started the Foundry Local runtime: request the `lab` fixture or "
                    "mark it `@pytest.mark.model`", pytrace=False)

    from helpers.evaluate.code_tests import RUNNER as SANDBOX_RUNNER

    class RefuseProcess(subprocess.Popen):
        def __init__(self, args: object, *rest: object, **kwargs: object) -> None:
            if isinstance(args, list | tuple) and str(SANDBOX_RUNNER) in map(str, args):
                # the code scorer's sandbox (`python -I -S`, no model, ~50 ms) is part of the unit under test
                super().__init__(args, *rest, **kwargs)
                return
            self._child_created = False  # Popen.__del__ reads it
            pytest.fail(f"{nodeid} is a unit test but started a process ({str(args)[:80]}): mark it "
                        "`@pytest.mark.cli` (no model loaded) or `@pytest.mark.model`", pytrace=False)

    platform.processor()  # the stdlib runs `uname -p` once per process and caches it: not a process of the test's
    monkeypatch.setattr(FoundryLocalManager, "initialize", staticmethod(refuse_runtime))
    monkeypatch.setattr(subprocess, "Popen", RefuseProcess)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """After a run of unit tests only: the proof that no model was loaded in this process."""
    ran = [report for reports in terminalreporter.stats.values() for report in reports
           if getattr(report, "when", None) == "call"]
    if not ran or not all("unit" in report.keywords for report in ran):
        return
    from foundry_local_sdk import FoundryLocalManager

    started = FoundryLocalManager.instance is not None
    terminalreporter.write_line(f"unit tier: {len(ran)} tests; Foundry Local runtime "
                                f"{'STARTED (a unit test loaded a model)' if started else 'never started'}")


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

    server = subprocess.Popen([sys.executable, "-m", "tests.app_service_emulator", "--port", "0"],
                              cwd=paths.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        line = server.stdout.readline()
        assert line.startswith("Foundry Local service emulator at ") and time.monotonic() < deadline, line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
