"""Versions of Python and the kit's key packages: recorded in every benchmark header, checked by preflight."""
from __future__ import annotations

import platform
from importlib import metadata

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
