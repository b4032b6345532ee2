"""The models picked in notebook 01, carried forward to notebooks 03, 04 and 05.

Notebook 01 saves the pick (`save`) as a small JSON file under the kit home (`picks.json`; `FOUNDRY_LAB_PICKS`
moves it); later notebooks call `chosen_models(MODELS)`: the parameters cell wins when it names models, else the
saved pick (its models that this machine still has), else the world's defaults (models.json). It prints one line
saying which, so an attendee always knows where the list came from.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..core import paths

PICKS_ENV = "FOUNDRY_LAB_PICKS"


@dataclass(frozen=True)
class Picks:
    """A saved pick: model aliases in the order chosen, the device, who saved it and when (ISO 8601, UTC)."""

    models: list[str]
    device: str
    saved_by: str
    saved_at: str


def picks_file() -> Path:
    """Where the pick is kept: $FOUNDRY_LAB_PICKS, else `<kit home>/picks.json`."""
    return Path(os.environ.get(PICKS_ENV) or paths.kit_home() / "picks.json")


def save(models: list[str], device: str = "auto", saved_by: str = "notebook 01") -> Path:
    """Save the pick; returns the file. ValueError when `models` is empty (nothing to carry forward)."""
    if not models:
        raise ValueError("pick at least one model to carry forward")
    path = picks_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    picks = Picks(list(models), device, saved_by, datetime.now(UTC).isoformat(timespec="seconds"))
    path.write_text(json.dumps(asdict(picks), indent=1), encoding="utf-8")
    return path


def load() -> tuple[Picks | None, str]:
    """The saved pick and a note; (None, why) when there is none or the file cannot be read as one."""
    path = picks_file()
    if not path.is_file():
        return None, f"no pick saved yet ({path}): notebook 01 saves one"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        picks = Picks([str(m) for m in data["models"]], str(data.get("device", "auto")),
                      str(data.get("saved_by", "?")), str(data.get("saved_at", "?")))
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"{path} is not a saved pick ({exc}); run notebook 01's pick cells again"
    return picks, f"picked in {picks.saved_by} at {picks.saved_at}"


def chosen_models(models: list[str] | None = None, offline: bool | None = None, known: set[str] | None = None,
                  quiet: bool = False, defaults: list[str] | None = None) -> list[str]:
    """The models a notebook runs: `models` when given (the parameters cell), else the saved pick restricted to
    `known` (default: the models this machine can run, `runtime.local_models`/the catalog), else `defaults` (a
    notebook's own list, e.g. notebook 05's size ladder), else the world's defaults (`preflight.target_models`).
    Prints where the list came from unless `quiet`."""
    from .preflight import target_models

    if models:
        source = "from the parameters cell"
        chosen = list(models)
    else:
        picks, note = load()
        usable = [m for m in picks.models if known is None or m in known] if picks else []
        dropped = [m for m in picks.models if m not in usable] if picks else []
        if usable:
            chosen, source = usable, note + (f"; not available here, left out: {', '.join(dropped)}" if dropped else "")
        else:
            chosen = list(defaults) if defaults else target_models(None, offline)
            where = "this notebook's defaults" if defaults else "the defaults (models.json)"
            source = f"{where}: " + (note if picks is None else
                                                       f"none of the picked models is available here ({note})")
    if not quiet:
        print(f"models: {', '.join(chosen)} ({source})")
    return chosen


def chosen_device(device: str | None = None) -> str:
    """The device: `device` when given, else the saved pick's, else "auto"."""
    if device:
        return device
    picks, _ = load()
    return picks.device if picks else "auto"
