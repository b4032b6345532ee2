"""Shared fixtures: one real Foundry Local runtime per test process, on a free port, with the bundled models."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("FOUNDRY_LAB_PORT", "0")

SMOL = "smollm2-135m-instruct-int4"


@pytest.fixture(scope="session")
def lab():
    """The started in-process runtime; fails (does not skip) when setup has not built the bundled models."""
    from helpers import runtime

    rt = runtime.start(quiet=True)
    assert SMOL in rt.bundled, "bundled models are not built: run `python -m helpers setup` first"
    return rt


@pytest.fixture
def smol(lab):
    """SmolLM2 int4, loaded (a no-op when an earlier test left it loaded)."""
    from helpers import runtime

    model, _ = runtime.get_model(SMOL, runtime=lab)
    runtime.load(model)
    return model
