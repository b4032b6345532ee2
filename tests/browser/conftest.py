"""Browser tests skip, with the one-line reason, where no browser can be had; under `.ci/run` that is an error.

`.ci/run` installs Chromium and exports FOUNDRY_LAB_REQUIRE_BROWSER=1, so a CI machine without it fails loudly
instead of passing with the browser tests quietly skipped.
"""
from __future__ import annotations

import os

import pytest

from .jupyterlab import missing_browser

REQUIRE_BROWSER_ENV = "FOUNDRY_LAB_REQUIRE_BROWSER"


def skip_or_fail_without_browser() -> None:
    """Return when a browser can be had; else skip (pytest.skip.Exception) with the one-line reason, or fail
    (pytest.fail.Exception, an ERROR in a fixture) when FOUNDRY_LAB_REQUIRE_BROWSER=1."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_BROWSER_ENV}=1: this run must include the browser tests)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def browser_available() -> None:
    """Every browser test skips, or errors, before JupyterLab starts, when no browser can be had."""
    skip_or_fail_without_browser()
