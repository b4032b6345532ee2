"""A run folder's file names, and its results log `results.jsonl`: append-only, one JSON record per line, each flushed and
fsynced as soon as it exists, so a crash or Ctrl-C keeps every finished trial.

`ResultsLog` is the one writer of results.jsonl; `read_records` reads it back. Each record is one of the typed,
versioned models of `helpers.bench.records` (field `type`): `header` (one per session), `model` (a model loaded, or
why not), `trial` (one timed request), `model_done` (memory and machine load of a model's run), `sweep_level`.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.api_key import redact
from ..core.config import READ_ENCODING
from ..core.errors import ClearError
from .records import Record, parse_record

RESULTS_FILE = "results.jsonl"  # written by ResultsLog
SUMMARY_CSV = "summary.csv"  # written by helpers.bench.outputs.write_run_files
SUMMARY_JSON = "summary.json"  # written by helpers.bench.outputs.write_run_files
REPORT_MD = "benchmark_report.md"  # written by helpers.bench.outputs.write_run_files


class RunFolderError(ClearError, ValueError):
    """A run folder has no usable results log."""


class ResultsLog:
    """Append-only JSONL log: every record is flushed and fsynced before `append` returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        ends_mid_line = path.is_file() and path.stat().st_size > 0 and _last_byte(path) != b"\n"
        self._file = path.open("a", encoding="utf-8")
        if ends_mid_line:  # a crash cut the last record short: start the next one on its own line
            self._file.write("\n")

    def append(self, record: Record) -> dict[str, Any]:
        """Write one record (built through its model, so complete); returns it as written, as a dict."""
        data = record.model_dump()
        self._file.write(redact(json.dumps(data, ensure_ascii=False)) + "\n")  # a key a server echoed
        self._file.flush()
        os.fsync(self._file.fileno())
        return data

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def read_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of a run folder's results.jsonl, validated (`helpers.bench.records.parse_record`: every field of
    its type present, older versions upgraded) and returned as a dict. A line that is not JSON (cut short by a crash)
    is skipped with a warning; a JSON record that is not valid raises RecordError naming the line and field."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise RunFolderError(f"{path}: no results log. Run `python -m helpers bench --out {run_dir}` first.")
    records, unreadable = [], []
    # errors="replace": a crash can cut a line inside a multi-byte character; that line is skipped, not the file
    for number, line in enumerate(path.read_text(encoding=READ_ENCODING, errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and "type" in record:
            records.append(parse_record(record, path, number).model_dump())
        else:
            unreadable.append(number)
    if unreadable:
        lines = ", ".join(map(str, unreadable[:5])) + (", …" if len(unreadable) > 5 else "")
        warnings.warn(f"{path}: skipped {len(unreadable)} unreadable line(s) (line {lines}: a record cut short by a "
                      "crash, or edited by hand); every other record is used", stacklevel=2)
    return records


def trial_key(record: Mapping[str, Any]) -> tuple[str, str, int, bool]:
    """What identifies a trial across sessions: (model, prompt_id, round, warmup)."""
    return record["model"], record["prompt_id"], int(record["round"]), bool(record["warmup"])
