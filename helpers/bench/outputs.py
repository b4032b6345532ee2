"""The one writer of a run folder's summary files: summary.csv, summary.json and benchmark_report.md.

`write_run_files` writes all three from a `BenchmarkRun`: at the end of a benchmark run (also an interrupted one)
and again from `python -m helpers report`, which passes its selection sections and data as `extra_markdown` and
`extra_json` (`helpers.present.report.write_reports`). No other function writes these files.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .markdown import benchmark_markdown
from .results import REPORT_MD, SUMMARY_CSV, SUMMARY_JSON
from .summary import BenchmarkRun


def write_run_files(run: BenchmarkRun, extra_markdown: str = "",
                    extra_json: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write summary.csv (`run.summary`, floats to 6 significant digits), summary.json (`run.to_json()` plus
    `extra_json`) and benchmark_report.md (the benchmark report, then `extra_markdown`) into `run.out_dir`.

    Returns their paths by kind: `csv`, `json`, `markdown`.
    """
    written = {"csv": run.out_dir / SUMMARY_CSV, "json": run.out_dir / SUMMARY_JSON,
               "markdown": run.out_dir / REPORT_MD}
    run.summary.to_csv(written["csv"], index=False, float_format="%.6g")
    payload = run.to_json() | dict(extra_json or {})
    written["json"].write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    markdown = benchmark_markdown(run) + (f"\n{extra_markdown}" if extra_markdown else "")
    written["markdown"].write_text(markdown, encoding="utf-8")
    return written
