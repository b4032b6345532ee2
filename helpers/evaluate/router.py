"""Capability routing: pick the model for a request from required capabilities and constraints.

Candidates are the models of models.json (capability tags, license, size, offline) plus the user's converted
models (`python -m helpers byom --capabilities ...`). Latency and memory constraints are checked against MEASURED
numbers: a benchmark summary (`reports/latest/summary.csv` when present, or one you pass). A model without a
measurement cannot prove it meets a latency or memory budget, so it is rejected with that reason rather than
guessed. Among the models that pass, the fastest measured p95 wins, then the smallest.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..bench.results import SUMMARY_CSV
from ..build.convert import MANIFEST_NAME
from ..core import paths
from ..core.config import READ_ENCODING, load_models
from ..core.errors import ClearError
from ..core.lists import comma_list

if TYPE_CHECKING:
    import argparse

LATEST_SUMMARY = paths.DEFAULT_RUN_DIR / SUMMARY_CSV


@dataclass(frozen=True)
class Candidate:
    """What the router knows about a model before any measurement."""

    name: str
    capabilities: frozenset[str]
    license: str
    size_mb: float | None
    offline: bool
    source: str


@dataclass
class Route:
    """The router's decision: the chosen model (None when nothing fits), why, and why the others were not."""

    model: str | None
    reasons: list[str]
    rejected: dict[str, list[str]] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    def headline(self) -> str:
        """The decision and its reasons in one line, without the rejected models (the table has their verdicts)."""
        return (f"-> {self.model}: " if self.model else "-> no model fits: ") + "; ".join(self.reasons)

    def __str__(self) -> str:
        return "\n".join([self.headline(), *(f"   not {name}: {'; '.join(why)}" for name, why in self.rejected.items())])


def candidates() -> list[Candidate]:
    """models.json entries, then converted user models that models.json does not name."""
    entries = load_models().models
    found = [Candidate(name, frozenset(e.capabilities), e.license, e.size_mb, e.offline, e.source)
             for name, e in entries.items()]
    root = paths.user_models_dir()
    for manifest_path in sorted(root.glob(f"*/{MANIFEST_NAME}")) if root.is_dir() else []:
        meta = json.loads(manifest_path.read_text(encoding=READ_ENCODING))
        name = manifest_path.parent.name
        if name not in entries:
            found.append(Candidate(name, frozenset(meta.get("capabilities", ["chat"])), meta.get("license", "unknown"),
                                   meta.get("size_mb"), True, "user"))
    return found


class SummaryFileError(ClearError, ValueError):
    """A --summary file that does not exist or is not a benchmark summary."""


SUMMARY_NEEDS = ("model", "status", "n", "e2e_ms_p95", "peak_rss_mb")


def latest_summary(path: str | Path | None = None) -> pd.DataFrame | None:
    """A benchmark run's summary.csv: `path`, or reports/latest/summary.csv (None when no run wrote one yet).

    SummaryFileError when a given `path` does not exist, or a summary is not a benchmark summary.csv."""
    given, path = path is not None, Path(path or LATEST_SUMMARY)
    if not path.is_file():
        if given:
            raise SummaryFileError(f"{path}: no such file. Give the summary.csv of a benchmark run "
                                   "(`foundry-lab bench --out DIR` writes DIR/summary.csv), or leave --summary out.")
        return None
    try:
        table = pd.read_csv(path, encoding=READ_ENCODING)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SummaryFileError(f"{path}: not a readable CSV ({exc}).") from None
    if missing := [column for column in SUMMARY_NEEDS if column not in table.columns]:
        raise SummaryFileError(f"{path}: not a benchmark summary.csv (no column {', '.join(missing)}); give the "
                               "summary.csv that `foundry-lab bench` wrote.")
    return table


def _measured(summary: pd.DataFrame | None) -> dict[str, dict]:
    """Per model, the last row of a successful measurement (status ok or partial, n > 0)."""
    if summary is None or summary.empty:
        return {}
    usable = summary[summary["status"].isin(["ok", "partial"]) & (summary["n"] > 0)]
    return {row["model"]: row for row in usable.to_dict("records")}


def _number(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def route(required_capabilities: list[str] | tuple[str, ...] | str, max_p95_ms: float | None = None,
          max_memory_mb: float | None = None, licenses: list[str] | None = None,
          summary: pd.DataFrame | str | Path | None = None, models: list[Candidate] | None = None,
          offline: bool = False, quality: pd.DataFrame | None = None, quality_floor: float | None = None) -> Route:
    """Choose a model that has every required capability and meets the constraints.

    `max_p95_ms` is checked against the measured e2e p95, `max_memory_mb` against the measured peak memory of the
    serving process; `licenses` lists acceptable licenses. `summary` is a benchmark summary (DataFrame or csv path;
    None: reports/latest/summary.csv when present). `models` replaces the candidates (default: `candidates()`);
    `offline=True` rejects models that need the internet. `quality_floor` is the quality gate of the selection
    report (models.json `gates.quality_floor`, 1-5), checked against `quality` (`uncertainty.model_quality`: model,
    mean_quality_score, the calibrated scorer the report gates on): a model below it, or without a score, is
    rejected as the report would exclude it.
    """
    needed = {required_capabilities} if isinstance(required_capabilities, str) else set(required_capabilities)
    table = summary if isinstance(summary, pd.DataFrame) else latest_summary(summary)
    measured = _measured(table)
    scored = ({} if quality is None else
              {row["model"]: _number(row["mean_quality_score"]) for row in quality.to_dict("records")})
    allowed = {name.lower() for name in licenses} if licenses else None
    rejected: dict[str, list[str]] = {}
    rows, fits = [], []
    pool = models if models is not None else candidates()
    known = set().union(*(m.capabilities for m in pool))
    for model in pool:
        row = measured.get(model.name, {})
        p95, memory = _number(row.get("e2e_ms_p95")), _number(row.get("peak_rss_mb"))
        why = []
        if missing := sorted(needed - model.capabilities):
            why.append(f"lacks {', '.join(missing)}")
        if offline and not model.offline:
            why.append("needs the internet (offline)")
        if allowed is not None and model.license.lower() not in allowed:
            why.append(f"license {model.license} not in {sorted(allowed)}")
        if max_p95_ms is not None:
            if p95 is None:
                why.append("no latency measurement (benchmark it first)")
            elif p95 > max_p95_ms:
                why.append(f"p95 {p95:.0f} ms > {max_p95_ms:.0f} ms")
        if max_memory_mb is not None:
            if memory is None:
                why.append("no memory measurement (benchmark it first)")
            elif memory > max_memory_mb:
                why.append(f"peak memory {memory:.0f} MB > {max_memory_mb:.0f} MB")
        score = scored.get(model.name)
        if quality_floor is not None:
            if score is None:
                why.append("no quality score (score its answers first)")
            elif score < quality_floor:
                why.append(f"quality {score:.2f} < floor {quality_floor:g}")
        rows.append({"model": model.name, "capabilities": ",".join(sorted(model.capabilities)),
                     "license": model.license, "size_mb": model.size_mb, "e2e_ms_p95": p95, "peak_rss_mb": memory,
                     "mean_quality_score": score, "verdict": "; ".join(why) or "fits"})
        if why:
            rejected[model.name] = why
        else:
            fits.append((model, p95, memory))
    frame = pd.DataFrame(rows, columns=["model", "capabilities", "license", "size_mb", "e2e_ms_p95", "peak_rss_mb",
                                        "mean_quality_score", "verdict"])
    if not fits:
        unknown = sorted(needed - known)
        why = (f"no candidate has the capability {', '.join(unknown)} (a typo? the tags are {', '.join(sorted(known))})"
               if unknown else f"none of {len(rows)} candidates meets the request")
        return Route(None, [why], rejected, frame)
    fits.sort(key=lambda fit: (fit[1] if fit[1] is not None else math.inf, fit[0].size_mb or math.inf))
    chosen, p95, memory = fits[0]
    reasons = [f"has {', '.join(sorted(needed)) or 'no required capability'}", f"license {chosen.license}"]
    if p95 is not None:
        reasons.append(f"measured p95 {p95:.0f} ms" + (f" <= {max_p95_ms:.0f} ms" if max_p95_ms is not None else ""))
    if memory is not None:
        reasons.append(f"peak memory {memory:.0f} MB" + (f" <= {max_memory_mb:.0f} MB" if max_memory_mb is not None else ""))
    if quality_floor is not None:
        reasons.append(f"quality {scored[chosen.name]:.2f} >= floor {quality_floor:g}")
    reasons.append(f"{'fastest measured' if p95 is not None else 'smallest'} of {len(fits)} that fit")
    return Route(chosen.name, reasons, rejected, frame)


def main(args: argparse.Namespace) -> int:
    """CLI entry (`python -m helpers route`): 0 when a model fits, 1 when none does."""
    from ..serve.registry import detect_offline

    decision = route(comma_list(args.capabilities), args.max_p95_ms,
                     args.max_memory_mb, comma_list(args.licenses) or None,
                     args.summary, offline=detect_offline())
    print(decision)
    return 0 if decision.model else 1
