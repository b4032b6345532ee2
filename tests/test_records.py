"""The results log's typed records (helpers.bench.records): written complete, read back the same, older logs upgraded,
and a record that is not valid refused with the file, line and field."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydantic
import pytest

from helpers.bench.records import (
    ADDED_SINCE_V0,
    SCHEMA_VERSION,
    HeaderRecord,
    ModelDoneRecord,
    ModelLoaded,
    ModelLookupFailed,
    PromptSetInfo,
    RecordError,
    SweepLevelRecord,
    SweepRequest,
    TargetInfo,
    TrialRecord,
)
from helpers.bench.results import RESULTS_FILE, ResultsLog, read_records
from helpers.bench.summary import load_run
from helpers.measure.trial import TrialTiming

RECORDED = Path(__file__).resolve().parent / "data" / "runs"


def _trial(**timing: object) -> TrialRecord:
    measured = TrialTiming(start=1.0, e2e_s=0.5, ttft_s=0.1, token_times=[0.1, 0.3, 0.5], output_tokens=3,
                           tokens_source="usage", finish_reason="stop", text="hi there", max_tokens=16)
    for name, value in timing.items():
        setattr(measured, name, value)
    return TrialRecord(session=1, time="2026-12-03T00:00:00.000+00:00", model="m", model_id="m:1",
                       target="http", prompt_id="hello", round=0, warmup=False, prompt_prefix="[r0p0] ",
                       **measured.to_record())


def _records() -> list:
    return [
        HeaderRecord(session=1, created="2026-12-03T00:00:00.000+00:00", kit_version="0.2.0",
                     versions={"python": "3.11.7"}, system={"os": "Linux"}, config={"models": ["m"]},
                     plan={"models": ["m"]}, config_fingerprint="abc",
                     prompt_set=PromptSetInfo(name="smoke", fingerprint="f", prompt_ids=["hello"], system=None),
                     target=TargetInfo(name="http", description="a server", memory_note=None),
                     rss_interval_s=0.05, threads={"m": {"threads": 2, "threads_source": "build"}},
                     bandwidth={"error": "not measured"}, load={"loadavg_1m": 0.5, "logical_cores": 2}),
        ModelLoaded(session=1, time="t", model="m", model_id="m:1", target="http", device="cpu", device_note=None,
                    execution_provider=None, context_length=2048, load_s=1.5, disk_mb=90.0, threads=2,
                    threads_source="build", weights_read_mb=80.0, ready_wait_s=None),
        ModelLookupFailed(session=1, time="t", model="gone", status="not_found", target="http", error="no such model"),
        _trial(),
        _trial(error="HTTPError: 500", text=""),
        SweepLevelRecord(session=1, time="t", model="m", model_id="m:1", concurrency=2, planned=2, max_s=60.0,
                         stopped_by="count", wall_s=1.2,
                         requests=[SweepRequest(prompt_id="hello", start_s=0.0, ok=True, e2e_ms=500.0, ttft_ms=100.0,
                                                output_tokens=3, finish_reason="stop", error=None)]),
        ModelDoneRecord(session=1, time="t", model="m", peak_rss_mb=600.0, rss_before_mb=500.0, memory_note=None,
                        duration_s=9.0, unload_error=None, cpu_busy_pct=50.0, other_cpu_pct=1.0, loadavg_1m=1.0,
                        process_peak_rss_mb=700.0, memory_method="isolated", model_rss_mb=100.0,
                        rss_baseline_mb=500.0),
    ]


def _write_lines(folder: Path, records: list[dict]) -> Path:
    (folder / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def test_every_record_type_round_trips_through_the_log(tmp_path) -> None:
    records = _records()
    with ResultsLog(tmp_path / RESULTS_FILE) as log:
        written = [log.append(record) for record in records]
    read = read_records(tmp_path)
    assert read == written == [record.model_dump() for record in records]
    assert {r["schema_version"] for r in read} == {SCHEMA_VERSION}
    assert [r["type"] for r in read] == ["header", "model", "model", "trial", "trial", "sweep_level", "model_done"]


def test_a_record_left_incomplete_fails_when_it_is_made() -> None:
    fields = _trial().model_dump()
    del fields["prompt_id"]
    with pytest.raises(pydantic.ValidationError, match="prompt_id"):
        TrialRecord(**fields)


def test_a_recorded_log_without_schema_version_reads_with_the_added_fields_empty() -> None:
    """tests/data/runs were recorded before records had a version (and before threads, bandwidth, close_ms...)."""
    raw = [json.loads(line) for line in (RECORDED / "baseline" / RESULTS_FILE).read_text().splitlines()]
    assert not any("schema_version" in r for r in raw)
    records = read_records(RECORDED / "baseline")
    assert len(records) == len(raw) and {r["schema_version"] for r in records} == {0}
    header, trial = records[0], next(r for r in records if r["type"] == "trial")
    assert (header["threads"], header["bandwidth"], header["load"]) == ({}, None, None)
    assert trial["close_ms"] is None and trial["e2e_ms"] == raw[2]["e2e_ms"]
    assert load_run(RECORDED / "baseline").summary["n"].tolist() == [4, 4]


def test_a_version_0_record_gets_exactly_the_fields_added_since(tmp_path) -> None:
    trial = _trial().model_dump()
    for name in [*ADDED_SINCE_V0[TrialRecord], "schema_version"]:
        del trial[name]
    [read] = read_records(_write_lines(tmp_path, [trial]))
    assert read == {**trial, **ADDED_SINCE_V0[TrialRecord], "schema_version": 0}


def test_a_record_missing_a_required_field_names_the_file_line_and_field(tmp_path) -> None:
    records = [record.model_dump() for record in _records()]
    del records[3]["e2e_ms"]  # line 4
    _write_lines(tmp_path, records)
    with pytest.raises(RecordError) as raised:
        read_records(tmp_path)
    message = str(raised.value)
    assert f"{tmp_path / RESULTS_FILE}, line 4 (trial record, schema_version {SCHEMA_VERSION}): field 'e2e_ms'" in message
    assert "missing" in message


def test_an_old_record_missing_a_field_it_always_had_is_refused(tmp_path) -> None:
    """Version 0 fills only the fields added since: `prompt_id` was in the first results log."""
    shutil.copytree(RECORDED / "baseline", tmp_path / "run")
    path = tmp_path / "run" / RESULTS_FILE
    lines = path.read_text().splitlines()
    trial = json.loads(lines[2])
    del trial["prompt_id"]
    path.write_text("\n".join([*lines[:2], json.dumps(trial), *lines[3:]]) + "\n")
    with pytest.raises(RecordError, match=r"line 3 \(trial record, schema_version 0\): field 'prompt_id'"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize(("change", "expected"), [
    ({"schema_version": SCHEMA_VERSION + 1}, "update the kit"),
    ({"type": "telemetry"}, "unknown record type 'telemetry'"),
    ({"round": "first"}, "field 'round'"),
])
def test_a_newer_unknown_or_mistyped_record_is_refused(tmp_path, change, expected) -> None:
    _write_lines(tmp_path, [_trial().model_dump() | change])
    with pytest.raises(RecordError, match=expected):
        read_records(tmp_path)
