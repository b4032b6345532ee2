"""Versions of the kit, Python and the kit's key packages: recorded in every benchmark header, checked by preflight.

The kit's own version has one source: pyproject.toml's `version`, read from the installed distribution's metadata."""
from __future__ import annotations

import platform
from importlib import metadata

KIT_DISTRIBUTION = "foundry-model-lab"
PACKAGES = ("foundry-local-sdk", "onnxruntime", "onnxruntime-genai-core", "openai", "numpy", "pandas")


def versions() -> dict[str, str]:
    """Python and the kit's key packages (PACKAGES), name -> version; "missing" for one not installed."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def kit_version() -> str:
    """The installed kit's version (pyproject.toml `version`, via importlib.metadata); "unknown" when the kit is
    not installed (run `python -m helpers setup`, which installs it into .venv)."""
    try:
        return metadata.version(KIT_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
