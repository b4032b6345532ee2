"""`foundry-lab class FOLDER`: the class report from a folder of share bundles.

Every `*.json` in FOLDER is checked (`bundle.read_bundle_file`; a refused file is named with the reason and left
out), the accepted ones are written as one newline-delimited JSON file and merged with DuckDB (`merge.merge`),
and per machine class one model is picked under the report's gates (models.json `gates`, the ones
`foundry-lab report` applies, `compare.gate_failures`), judged on the class's worst machine where that is what a
promise needs:

- memory: the class's highest peak memory within the budget; license: allowed; quality: the class's median
  quality score at or above the floor (applied only when some bundle of the class carries a quality score,
  i.e. its run went through `foundry-lab report` before `share`; the report says when it was not applied);
- every machine of the class ran the model without errors (status ok);
- with `--max-p95-ms`: every machine's e2e p95 within it ("answers in under 2 s on every machine").

Among the models that pass, the pick is the one with the highest median quality; without quality scores, the
largest (models.json `params_b`, then disk size): the most capable model the class can run within the gates.

Writes into `--out` (default FOLDER/class-report): `class_report.md`, `class_spread.csv`, `class_picks.csv`,
`class_outliers.csv`, `class_runs.csv`.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.config import SelectionGates, load_models
from ..core.errors import ClearError
from ..evaluate.compare import gate_failures
from .bundle import BundleError, read_bundle_file
from .merge import ALL_MACHINES, SPREAD_METRICS, ClassMerge, merge

REPORT_MD, SPREAD_CSV, PICKS_CSV, OUTLIERS_CSV, RUNS_CSV = (
    "class_report.md", "class_spread.csv", "class_picks.csv", "class_outliers.csv", "class_runs.csv")
PICK_COLUMNS = ["machine_class", "machines", "pick", "why", "excluded"]


@dataclass
class ClassReport:
    merged: ClassMerge
    picks: pd.DataFrame
    refused: dict[str, str]  # file name -> reason
    gates: SelectionGates
    max_p95_ms: float | None
    seconds: dict[str, float]  # check, merge


def check_bundles(folder: Path, ndjson: Path) -> tuple[int, dict[str, str]]:
    """Check every `*.json` of `folder` (`read_bundle_file`) and write each accepted bundle, as parsed, as one line
    of `ndjson` (what the merge reads). Returns how many were accepted and the refused files with their reason."""
    if not folder.is_dir():
        raise ClearError(f"{folder}: not a folder of share bundles (make them with `foundry-lab share RUN`).")
    accepted, refused = 0, {}
    with ndjson.open("w", encoding="utf-8") as lines:
        for path in sorted(folder.glob("*.json")):
            try:
                lines.write(read_bundle_file(path).model_dump_json() + "\n")
                accepted += 1
            except (BundleError, OSError) as exc:
                refused[path.name] = str(exc)
    if not accepted:
        raise ClearError(f"{folder}: no share bundle to merge ({len(refused)} refused"
                         + (f", e.g. {next(iter(refused.values()))}" if refused else "") + ").")
    return accepted, refused


def _size_key(model: str) -> tuple[float, float]:
    entry = load_models().models.get(model)
    return (entry.params_b, entry.size_mb) if entry else (0.0, 0.0)


def pick_models(spread: pd.DataFrame, gates: SelectionGates, max_p95_ms: float | None = None) -> pd.DataFrame:
    """One row per machine class: the model to run (or none), why, and what excluded the others."""
    entries = load_models().models
    rows = []
    for machine_class, group in spread[spread["machine_class"] != ALL_MACHINES].groupby("machine_class", sort=False):
        has_quality = group["quality_median"].notna().any()
        class_gates = gates if has_quality else gates.model_copy(update={"quality_floor": None})
        passing, excluded = [], []
        for _, row in group.iterrows():
            entry = entries.get(row["model"])
            failed = gate_failures(pd.Series({"mean_facet_score": row["quality_median"],
                                              "peak_rss_mb": row["peak_rss_mb_max"],
                                              "license": entry.license if entry else None}), class_gates)
            if row["machines_ok"] < row["machines"]:
                failed.append(f"failed on {row['machines'] - row['machines_ok']} of {row['machines']} machines")
            if max_p95_ms is not None and not row["e2e_ms_p95_max"] <= max_p95_ms:
                failed.append(f"e2e p95 up to {row['e2e_ms_p95_max']:,.0f} ms > {max_p95_ms:,.0f} ms")
            (excluded.append(f"{row['model']}: {'; '.join(failed)}") if failed else passing.append(row))
        best = max(passing, key=lambda r: (r["quality_median"] if has_quality and pd.notna(r["quality_median"])
                                           else float("-inf"), *_size_key(r["model"])), default=None)
        why = ("no model passes the gates" if best is None else
               f"highest median quality ({best['quality_median']:.2f}) among {len(passing)} passing" if has_quality
               else f"largest of {len(passing)} passing (no quality scores: quality gate not applied)")
        rows.append({"machine_class": machine_class, "machines": int(group["machines"].max()),
                     "pick": None if best is None else best["model"], "why": why, "excluded": " | ".join(excluded)})
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


def build(folder: str | Path, max_p95_ms: float | None = None, memory_limit: str | None = None) -> ClassReport:
    """Check, merge and pick (see the module docstring); nothing is written."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="foundry-lab-class-") as staging:
        ndjson = Path(staging) / "bundles.jsonl"
        _, refused = check_bundles(Path(folder), ndjson)
        checked = time.perf_counter()
        merged = merge(ndjson, memory_limit)
        merged_at = time.perf_counter()
    gates = load_models().gates
    return ClassReport(merged, pick_models(merged.spread, gates, max_p95_ms), refused, gates, max_p95_ms,
                       {"check": checked - started, "merge": merged_at - checked})


def _fmt(value: object, digits: int = 0) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:,.{digits}f}"


def render(report: ClassReport) -> str:
    """The class report as Markdown."""
    m = report.merged
    lines = [f"# Class report: {m.machines} machines ({m.bundles} bundles)", ""]
    if report.refused:
        lines += [f"{len(report.refused)} file(s) refused and left out: "
                  + "; ".join(f"{reason}" for reason in list(report.refused.values())[:5]), ""]
    gate_words = [f"peak memory ≤ {report.gates.memory_budget_mb:,.0f} MB on every machine of the class"
                  if report.gates.memory_budget_mb else "no memory budget",
                  f"license in {', '.join(report.gates.licenses)}" if report.gates.licenses else "any license",
                  f"median quality ≥ {report.gates.quality_floor:g}" if report.gates.quality_floor else "no quality floor",
                  "no errors on any machine"]
    if report.max_p95_ms is not None:
        gate_words.append(f"e2e p95 ≤ {report.max_p95_ms:,.0f} ms on every machine")
    lines += ["## Which model each machine class should run", "", "Gates: " + ", ".join(gate_words) + ".", "",
              "| machine class | machines | model | why | excluded |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r.machine_class} | {r.machines} | {r.pick or 'none'} | {r.why} | {r.excluded or '–'} |"
              for r in report.picks.itertuples()]
    lines += ["", "## Spread across machines (min / median / max of each machine's figure)", ""]
    header = "| model | machine class | machines | " + " | ".join(SPREAD_METRICS.values()) + " | worst e2e p95 (ms) |"
    lines += [header, "|" + " --- |" * (4 + len(SPREAD_METRICS))]
    for r in m.spread.itertuples():
        cells = [" / ".join(_fmt(getattr(r, f"{c}_{s}"), 1 if c == "decode_roofline_pct" else 0)
                            for s in ("min", "median", "max")) for c in SPREAD_METRICS]
        lines.append(f"| {r.model} | {r.machine_class} | {r.machines} | " + " | ".join(cells)
                     + f" | {_fmt(r.e2e_ms_p95_max)} |")
    lines += ["", "## Outlier machines", ""]
    if m.outliers.empty:
        lines.append("None: every machine is within Tukey's fences of its class (classes of 4+ machines).")
    else:
        lines += ["| machine | class | model | metric | value | class median | fences |", "| --- |" * 1 + " --- |" * 6]
        lines += [f"| {o.machine} | {o.machine_class} | {o.model} | {o.metric} | {_fmt(o.value, 1)} | "
                  f"{_fmt(o.median, 1)} | {_fmt(o.low_fence, 1)} – {_fmt(o.high_fence, 1)} |" for o in m.outliers.itertuples()]
    return "\n".join(lines) + "\n"


def write(report: ClassReport, out: Path) -> Path:
    """Write the report's files into `out`; returns the Markdown file's path."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in ((SPREAD_CSV, report.merged.spread), (PICKS_CSV, report.picks),
                        (OUTLIERS_CSV, report.merged.outliers), (RUNS_CSV, report.merged.runs)):
        frame.to_csv(out / name, index=False, float_format="%.6g")
    (out / REPORT_MD).write_text(render(report), encoding="utf-8")
    return out / REPORT_MD


def main(folder: str, out: str | None, max_p95_ms: float | None) -> int:
    """CLI entry: build, write, print the Markdown."""
    report = build(folder, max_p95_ms)
    for name, reason in report.refused.items():
        warnings.warn(f"refused {name}: {reason}", stacklevel=1)
    path = write(report, Path(out) if out else Path(folder) / "class-report")
    print(render(report))
    print(f"written: {path} (+ CSVs); checked in {report.seconds['check']:.2f} s, merged in "
          f"{report.seconds['merge']:.2f} s")
    return 0
