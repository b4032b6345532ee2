"""results.jsonl read back after a crash: a damaged line is skipped and named, every other record is used."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.bench.results import RESULTS_FILE, read_records

from .test_records import _records

RECORDS = [record.model_dump() for record in _records()[:2]] + [_records()[3].model_dump() | {"text": "café → ok"}]


def _log(folder: Path, tail: bytes, middle: bytes = b"") -> Path:
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in RECORDS]
    (folder / RESULTS_FILE).write_bytes(b"\n".join(lines[:1] + ([middle] if middle else []) + lines[1:]) + b"\n" + tail)
    return folder


@pytest.mark.parametrize(("tail", "middle", "bad_line"), [
    (b'{"type": "trial", "text": "caf\xc3', b"", 4),  # cut inside a multi-byte character: was a UnicodeDecodeError
    (b'{"type": "trial", "te', b"", 4),                # cut inside a record
    (b"", b"{garbage", 2),                              # edited by hand, mid-file
    (b"", b"42", 2),                                    # valid JSON, not a record
])
def test_a_damaged_line_is_skipped_with_its_number_and_the_rest_is_kept(tmp_path, tail, middle, bad_line) -> None:
    with pytest.warns(UserWarning, match=rf"skipped 1 unreadable line\(s\) \(line {bad_line}: "):
        records = read_records(_log(tmp_path, tail, middle))
    assert records == RECORDS


def test_a_byte_order_mark_is_accepted(tmp_path) -> None:
    (tmp_path / RESULTS_FILE).write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8-sig")
    assert read_records(tmp_path) == RECORDS


@pytest.mark.cli
def test_the_command_line_prints_a_warning_as_one_line() -> None:
    """Not `…/summary.py:107: UserWarning: …` followed by the source line that warned."""
    code = ("import warnings; from helpers.__main__ import cli; cli(['report', '/nonexistent-run']); "
            "print(repr(warnings.formatwarning('skipped 1 line', UserWarning, 'x.py', 107, 'line = 1')))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert shown.stdout.strip() == repr("warning: skipped 1 line\n")
    assert "no results log" in shown.stderr and "Traceback" not in shown.stderr
