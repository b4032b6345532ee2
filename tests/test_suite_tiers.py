"""The test suite itself: browser tests skip or fail by the run's rule, and every test lands in one tier."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.core.paths import REPO_ROOT

from .browser import jupyterlab
from .browser.conftest import REQUIRE_BROWSER_ENV, skip_or_fail_without_browser
from .browser.jupyterlab import CHROMIUM_ENV
from .conftest import TIERS

MISSING_CHROMIUM = "/nonexistent/chromium"


def _browser_tests(**env: str) -> subprocess.CompletedProcess:
    """`pytest tests/browser` in a subprocess with `env` added (the browser tests' own conftest decides)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != REQUIRE_BROWSER_ENV}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "tests/browser"],
                          cwd=REPO_ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.cli
def test_without_chromium_the_browser_tests_skip_with_a_one_line_reason() -> None:
    """The README's test command on a fresh machine: was three ERRORs ("/usr/bin/chromium is missing")."""
    done = _browser_tests(**{CHROMIUM_ENV: MISSING_CHROMIUM})
    assert done.returncode == 0, done.stdout + done.stderr
    assert " skipped" in done.stdout and " passed" not in done.stdout and "error" not in done.stdout.lower()
    assert f"no Chromium at {MISSING_CHROMIUM}: apt-get install chromium" in done.stdout


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jupyterlab, "CHROMIUM", Path(MISSING_CHROMIUM))


def test_when_the_run_requires_a_browser_its_absence_is_an_error(no_chromium, monkeypatch: pytest.MonkeyPatch) -> None:
    """`.ci/run` exports FOUNDRY_LAB_REQUIRE_BROWSER=1: a CI machine without Chromium must not pass quietly."""
    monkeypatch.setenv(REQUIRE_BROWSER_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"no Chromium at {MISSING_CHROMIUM}.*{REQUIRE_BROWSER_ENV}=1"):
        skip_or_fail_without_browser()
    monkeypatch.delenv(REQUIRE_BROWSER_ENV)
    with pytest.raises(pytest.skip.Exception, match=f"^no Chromium at {MISSING_CHROMIUM}: apt-get install chromium"):
        skip_or_fail_without_browser()


def test_ci_requires_the_browser_tests() -> None:
    assert f"export {REQUIRE_BROWSER_ENV}=1" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")



def test_tiers_are_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(TIERS) <= registered


def test_every_collected_test_has_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    tiers = {item.nodeid: [t for t in TIERS if item.get_closest_marker(t)] for item in request.session.items}
    assert tiers and all(len(found) == 1 for found in tiers.values()), {k: v for k, v in tiers.items() if len(v) != 1}
    assert tiers[request.node.nodeid] == ["unit"]
