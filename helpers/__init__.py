"""Helpers for Foundry Local Model Lab: the tested package behind the notebooks (layout: README "Layout").

Notebooks import a few modules by their earlier flat names; `MOVED` maps each to its home, imported on first use
(standard library only here: `python -m helpers setup` imports this package before the kit's environment exists).
"""
from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

MOVED = {  # notebook-facing name -> the module that owns it now
    "benchmark": "helpers.bench",
    "report": "helpers.bench",
    "bundled": "helpers.build.bundled",
    "byom": "helpers.build.byom",
    "compare": "helpers.evaluate.compare",
    "devices": "helpers.core.devices",
    "energy": "helpers.measure.energy",
    "paths": "helpers.core.paths",
    "plots": "helpers.present.plots",
    "preflight": "helpers.workshop.preflight",
    "quality": "helpers.evaluate.quality",
    "rouge": "helpers.evaluate.rouge",
    "router": "helpers.evaluate.router",
    "runtime": "helpers.serve.runtime",
    "selection_report": "helpers.evaluate.selection",
    "widgets": "helpers.present.widgets",
}


def __getattr__(name: str) -> ModuleType:
    """`from helpers import benchmark` (and the other MOVED names) imports the module that owns it."""
    if name in MOVED:
        return importlib.import_module(MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
