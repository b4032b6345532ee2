"""The kit's version has one source, pyproject.toml, and the benchmark header reports it."""
from __future__ import annotations

import tomllib

from helpers.core.paths import REPO_ROOT
from helpers.core.versions import kit_version


def test_kit_version_is_pyprojects() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert kit_version() == declared
