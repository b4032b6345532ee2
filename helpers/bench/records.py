"""The records of a results log (results.jsonl) as typed, versioned models: what `helpers.bench.session` writes and
`helpers.bench.results.read_records` reads back.

One model per record type (field `type`): `HeaderRecord` (one per session), `ModelLoaded` / `ModelLookupFailed`
(type `model`, told apart by `status`), `TrialRecord`, `ModelDoneRecord`, `SweepLevelRecord`. Every record carries
`schema_version` (SCHEMA_VERSION when written). Writers build records through these models, where every field is
required: a field left out fails when the record is made (pydantic.ValidationError), not as an empty column
downstream. Fields not declared here are kept as they are (a newer kit's additions).

Reading (`parse_record`): a record without `schema_version` was written before records were versioned (version 0);
the fields added since (ADDED_SINCE_V0) are filled with what they meant then (None: not recorded), every other field
must be there. A record missing a field, with a field of the wrong type, of an unknown type or of a newer schema is
a RecordError naming the file, line and field.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..core.errors import ClearError

SCHEMA_VERSION = 1


class RecordError(ClearError, ValueError):
    """A results-log line that is JSON but not a record this kit can read."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    type: str
    schema_version: int = SCHEMA_VERSION
    session: int  # 1 for a run's first session, +1 per --resume


class PromptSetInfo(BaseModel):
    name: str  # a prompts.json set name or a file path
    fingerprint: str
    prompt_ids: list[str]
    system: str | None


class TargetInfo(BaseModel):
    name: str  # inprocess | http | endpoint
    description: str
    memory_note: str | None  # why memory is not observable, when it is not


class HeaderRecord(_Record):
    """One per session: versions, system, config and its fingerprint, prompt set, target, machine state."""

    type: Literal["header"] = "header"
    created: str  # ISO 8601, UTC
    kit_version: str
    versions: dict[str, str]  # python and key packages -> version
    system: dict[str, Any]  # `helpers.bench.memory.system_info`
    config: dict[str, Any]  # `BenchConfig` as a dict
    plan: dict[str, Any]  # what the fingerprint covers
    config_fingerprint: str
    prompt_set: PromptSetInfo
    target: TargetInfo
    rss_interval_s: float
    threads: dict[str, dict[str, Any]]  # model -> {"threads", "threads_source"} (`helpers.bench.targets.thread_settings`)
    bandwidth: dict[str, Any] | None  # `helpers.measure.roofline.machine_bandwidth`, or {"error": ...}
    load: dict[str, int | float] | None  # `helpers.measure.run_noise.machine_load` at the start


class ModelLoaded(_Record):
    """A model was found and cold-loaded."""

    type: Literal["model"] = "model"
    time: str
    model: str
    status: Literal["loaded"] = "loaded"
    model_id: str
    target: str
    device: str | None
    device_note: str | None
    execution_provider: str | None
    context_length: int | None
    load_s: float | None  # None: the backend cannot tell (a server without a load route)
    disk_mb: float | None  # MB = 10^6 bytes
    threads: int | None
    threads_source: str | None
    weights_read_mb: float | None  # bytes read per decoded token (`helpers.measure.roofline`)
    ready_wait_s: float | None  # time spent waiting for a server still loading the model


class ModelLookupFailed(_Record):
    """A model was not found, or could not (or would not) be loaded."""

    type: Literal["model"] = "model"
    time: str
    model: str
    status: Literal["not_found", "load_failed", "load_skipped"]
    target: str
    error: str


class TrialRecord(_Record):
    """One timed request: what identifies it, then `TrialTiming.to_record()` (raw fields and derived metrics; the
    definitions are in `helpers.measure.trial` and `helpers.bench.metrics`)."""

    type: Literal["trial"] = "trial"
    time: str
    model: str
    model_id: str | None
    target: str
    prompt_id: str
    round: int
    warmup: bool
    prompt_prefix: str | None  # the cold-cache prefix sent before the prompt ("" when none)
    start: float
    e2e_s: float
    ttft_s: float | None
    token_times: list[float]
    output_tokens: int | None
    tokens_source: str | None
    prompt_tokens: int | None
    finish_reason: str | None
    error: str | None
    text: str
    streamed: bool
    note: str | None
    ttft_any_s: float | None
    reasoning_tokens: int | None
    reasoning: str | None
    cached_tokens: int | None
    close_s: float | None
    max_tokens: int | None
    ok: bool
    truncated: bool
    truncation: str | None
    e2e_ms: float
    close_ms: float | None
    ttft_ms: float | None
    ttft_any_ms: float | None
    answer_tokens: int | None
    tpot_ms: float | None
    decode_tps: float | None
    output_tps: float | None
    itl_ms: list[float]


class ModelDoneRecord(_Record):
    """A loaded model's run ended: its memory, the unload, the machine's load meanwhile."""

    type: Literal["model_done"] = "model_done"
    time: str
    model: str
    peak_rss_mb: float | None  # the isolated probe's when memory_method is "isolated", else this process's
    rss_before_mb: float | None
    memory_note: str | None
    duration_s: float
    unload_error: str | None
    cpu_busy_pct: float | None
    other_cpu_pct: float | None
    loadavg_1m: float | None
    process_peak_rss_mb: float | None
    memory_method: Literal["isolated", "process"] | None
    model_rss_mb: float | None = None  # isolated probe only
    rss_baseline_mb: float | None = None  # isolated probe only
    memory_probe_error: str | None = None  # the isolated probe failed


class SweepRequest(BaseModel):
    prompt_id: str
    start_s: float  # after the level's first request started
    ok: bool
    e2e_ms: float
    ttft_ms: float | None
    output_tokens: int | None
    finish_reason: str | None
    error: str | None


class SweepLevelRecord(_Record):
    """One concurrency level of a load sweep, with each of its requests."""

    type: Literal["sweep_level"] = "sweep_level"
    time: str
    model: str
    model_id: str | None
    concurrency: int
    planned: int
    max_s: float
    stopped_by: Literal["count", "time"]
    wall_s: float
    requests: list[SweepRequest]


Record = HeaderRecord | ModelLoaded | ModelLookupFailed | TrialRecord | ModelDoneRecord | SweepLevelRecord
_TYPES: dict[str, type[_Record]] = {"header": HeaderRecord, "trial": TrialRecord, "model_done": ModelDoneRecord,
                                    "sweep_level": SweepLevelRecord}

# Fields written since the first results log (records without `schema_version`), and what their absence meant then.
ADDED_SINCE_V0: dict[type[_Record], dict[str, Any]] = {
    HeaderRecord: {"threads": {}, "bandwidth": None, "load": None},
    ModelLoaded: {"threads": None, "threads_source": None, "weights_read_mb": None, "ready_wait_s": None},
    TrialRecord: dict.fromkeys(("prompt_prefix", "ttft_any_s", "reasoning_tokens", "reasoning", "cached_tokens",
                                "close_s", "max_tokens", "truncation", "close_ms", "ttft_any_ms", "answer_tokens")),
    ModelDoneRecord: dict.fromkeys(("cpu_busy_pct", "other_cpu_pct", "loadavg_1m", "process_peak_rss_mb",
                                    "memory_method")),
}


def record_class(data: Mapping[str, Any]) -> type[_Record] | None:
    """The model of a record by its `type` (and, for `model`, its `status`); None for an unknown type."""
    if data.get("type") == "model":
        return ModelLoaded if data.get("status") == "loaded" else ModelLookupFailed
    return _TYPES.get(data.get("type"))  # type: ignore[arg-type]


def parse_record(data: Mapping[str, Any], path: Path, line: int) -> Record:
    """One record of `path` (at `line`) validated, a version-0 record upgraded (module doc). Raises RecordError."""
    where = f"{path}, line {line}"
    kind = record_class(data)
    if kind is None:
        raise RecordError(f"{where}: unknown record type {data.get('type')!r} (this kit reads "
                          f"{', '.join(['model', *_TYPES])}): remove the line or update the kit.")
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RecordError(f"{where}: schema_version {version!r}; this kit reads results logs up to version "
                          f"{SCHEMA_VERSION}: update the kit (pip install -e . in its folder) to read this run.")
    if version == 0:
        data = {**ADDED_SINCE_V0.get(kind, {}), **data, "schema_version": 0}
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"field '{'.'.join(map(str, err['loc'])) or '(record)'}': {err['msg'].lower()}"
                             for err in exc.errors()[:3])
        raise RecordError(f"{where} ({data['type']} record, schema_version {version}): {problems}. The line was "
                          "edited or written by another program; fix or remove it.") from None
