"""Helpers for Foundry Local Model Lab: the tested package behind the notebooks (layout: README "Layout").

The notebook-facing names: notebooks import only `from helpers import …`, and `LAB` maps each name they use to the
module (or `module:attribute`) that owns it, imported on first use. It is the one place where a notebook name
differs from the package layout. Standard library only here: `python -m helpers setup` imports this package
before the kit's environment exists.
"""

import importlib
from typing import Any

LAB = {  # notebook name -> "module" or "module:attribute"
    "API_KEY_ENV": "helpers.core.api_key:API_KEY_ENV",
    "ModelNotFoundError": "helpers.serve.errors:ModelNotFoundError",
    "SelectionGates": "helpers.core.config:SelectionGates",
    "annotations": "helpers.evaluate.annotations",
    "answers": "helpers.evaluate.answers",
    "benchmark": "helpers.bench",
    "bundled": "helpers.build.bundled",
    "calibration": "helpers.evaluate.calibration",
    "byom": "helpers.workshop.byom",
    "cells": "helpers.present.cells",
    "claims": "helpers.present.claims",
    "compare": "helpers.evaluate.compare",
    "devices": "helpers.core.devices",
    "endpoints": "helpers.serve.endpoints",
    "energy": "helpers.measure.energy",
    "facets": "helpers.evaluate.facets",
    "footprint": "helpers.bench.summary:footprint",
    "format_value": "helpers.bench.markdown:format_value",
    "judge": "helpers.evaluate.judge",
    "load_models": "helpers.core.config:load_models",
    "paths": "helpers.core.paths",
    "picks": "helpers.workshop.picks",
    "plots": "helpers.present.plots",
    "preflight": "helpers.workshop.preflight",
    "probe": "helpers.workshop.probe",
    "quality_view": "helpers.present.quality_view",
    "registry": "helpers.serve.registry",
    "render": "helpers.present.render",
    "report": "helpers.bench",
    "resolve_prompt_set": "helpers.core.config:resolve_prompt_set",
    "roofline": "helpers.measure.roofline",
    "rouge": "helpers.evaluate.rouge",
    "router": "helpers.evaluate.router",
    "runners": "helpers.serve.runners",
    "runtime": "helpers.serve.runtime",
    "scoring": "helpers.evaluate.scoring",
    "selection_report": "helpers.present.report",
    "tables": "helpers.present.tables",
    "time_inprocess_chat": "helpers.measure.timing:time_inprocess_chat",
    "time_openai_chat": "helpers.measure.timing:time_openai_chat",
    "widgets": "helpers.present.widgets",
}


def __getattr__(name: str) -> Any:
    """`from helpers import runtime, load_models` (any name of `LAB`) imports the module that owns it.

    Raises AttributeError for a name `LAB` does not hold."""
    if name not in LAB:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = LAB[name].partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, attribute) if attribute else owner


def __dir__() -> list[str]:
    return sorted([*globals(), *LAB])
