"""Share bundles: one run's results and its machine's profile in one JSON file, for the class report.

`make_bundle(run_dir)` keeps a fixed list of fields (`MODEL_FIELDS`, `RunFacts`, `helpers.classroom.profile`) and
nothing else: no paths, no error texts, no user or host names, no keys. `check_nothing_personal` then looks for
this machine's user name, host name, home folder, repository path and FOUNDRY_LOCAL_API_KEY in the serialized
bundle and refuses to write one that contains any (a model name a user chose could carry one).

`parse_bundle(data)` is the one reader, for the collector and the class report alike: at most MAX_BUNDLE_BYTES,
UTF-8 JSON, the schema `Bundle` (unknown fields refused, strings and lists bounded, numbers finite and >= 0).
A bundle is data: nothing in it is ever executed or used as a path. `BundleError` says what is wrong.
"""
from __future__ import annotations

import getpass
import json
import re
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..bench.results import SUMMARY_CSV
from ..bench.summary import load_run
from ..core import paths
from ..core.api_key import api_key
from ..core.config import READ_ENCODING
from ..core.errors import ClearError
from ..core.versions import kit_version
from .profile import machine_class, machine_profile

BUNDLE_FORMAT = "foundry-lab-share/1"
MAX_BUNDLE_BYTES = 256_000  # a real bundle of 5 models is ~3 kB
BUNDLE_SUFFIX = ".share.json"
MODEL_FIELDS = ("ttft_ms_p50", "ttft_ms_p95", "e2e_ms_p50", "e2e_ms_p95", "tpot_ms_p50", "decode_tps_median",
                "output_tps_median", "peak_rss_mb", "disk_mb", "load_s", "decode_roofline_pct", "quality")
QUALITY_SOURCE = ("comparison.csv", "mean_facet_score")  # written by `foundry-lab report`, when it ran


class BundleError(ClearError, ValueError):
    """A bundle is too large, not JSON, or not a share bundle; the message says which and where."""


Text = Annotated[str, StringConstraints(max_length=200)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:+/-]{0,119}$")]
Number = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class MachineProfile(_Strict):
    machine_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
    cpu: Text
    physical_cores: Annotated[int, Field(ge=1, le=4096)] | None
    logical_cores: Annotated[int, Field(ge=1, le=8192)] | None
    ram_gb: Number
    os: Text
    os_release: Text
    arch: Text
    gpus: Annotated[list[Text], Field(max_length=16)]
    npus: Annotated[list[Text], Field(max_length=16)]
    versions: Annotated[dict[Name, Text], Field(max_length=32)]
    memory_bandwidth_gbps: Number | None = None
    machine_class: Text


class RunFacts(_Strict):
    prompt_set: Text
    prompt_fingerprint: Text
    rounds: Annotated[int, Field(ge=0, le=10_000)]
    max_tokens: Annotated[int, Field(ge=0, le=1_000_000)]
    target: Text
    created: Text


class ModelResult(_Strict):
    model: Name
    status: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,20}$")]
    n: Annotated[int, Field(ge=0, le=1_000_000)]
    errors: Annotated[int, Field(ge=0, le=1_000_000)]
    ttft_ms_p50: Number | None = None
    ttft_ms_p95: Number | None = None
    e2e_ms_p50: Number | None = None
    e2e_ms_p95: Number | None = None
    tpot_ms_p50: Number | None = None
    decode_tps_median: Number | None = None
    output_tps_median: Number | None = None
    peak_rss_mb: Number | None = None
    disk_mb: Number | None = None
    load_s: Number | None = None
    decode_roofline_pct: Number | None = None
    quality: Number | None = None


class Bundle(_Strict):
    """A share bundle (format BUNDLE_FORMAT): who made it (anonymously), on what machine, what it measured."""

    format: Literal["foundry-lab-share/1"]
    bundle_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    created: Text
    kit_version: Text
    label: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 _.-]{0,32}$")] = ""
    machine: MachineProfile
    run: RunFacts
    models: Annotated[list[ModelResult], Field(min_length=1, max_length=64)]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _summary(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run's per-model summary, with the columns other steps add when they ran: `decode_roofline_pct`
    (summary.csv, when the run measured the roofline) and `quality` (comparison.csv's facet score)."""
    run = load_run(run_dir)
    summary = run.summary.copy()
    csv = run_dir / SUMMARY_CSV
    if "decode_roofline_pct" not in summary and csv.is_file():
        written = pd.read_csv(csv, encoding=READ_ENCODING)
        if "decode_roofline_pct" in written:
            summary = summary.merge(written[["model", "decode_roofline_pct"]], on="model", how="left")
    comparison = run_dir / QUALITY_SOURCE[0]
    if comparison.is_file():
        scores = pd.read_csv(comparison, encoding=READ_ENCODING)
        if QUALITY_SOURCE[1] in scores:
            summary = summary.merge(scores[["model", QUALITY_SOURCE[1]]].rename(columns={QUALITY_SOURCE[1]: "quality"}),
                                    on="model", how="left")
    return summary, run.header


def make_bundle(run_dir: str | Path, label: str = "") -> dict[str, Any]:
    """The bundle of a run folder (results.jsonl, and summary.csv / comparison.csv when present), checked by
    `Bundle` and `check_nothing_personal`. RunFolderError for a folder without a results log."""
    summary, header = _summary(Path(run_dir))
    config = header.get("config", {})
    models = [{"model": row["model"], "status": row["status"], "n": int(row["n"]), "errors": int(row["errors"]),
               **{f: _number(row.get(f)) for f in MODEL_FIELDS}} for _, row in summary.iterrows()]
    bundle = {
        "format": BUNDLE_FORMAT, "bundle_id": uuid.uuid4().hex,
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "kit_version": kit_version(), "label": label,
        "machine": machine_profile(header),
        "run": {"prompt_set": header["prompt_set"]["name"], "prompt_fingerprint": header["prompt_set"]["fingerprint"],
                "rounds": int(config.get("rounds") or 0), "max_tokens": int(config.get("max_tokens") or 0),
                "target": header.get("target", {}).get("name", ""), "created": header.get("created", "")},
        "models": models,
    }
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise BundleError(f"{run_dir}: the run cannot be shared: {_first_error(exc)}") from None
    check_nothing_personal(json.dumps(bundle, ensure_ascii=False))
    return bundle


def personal_strings() -> list[str]:
    """What must never leave the machine: user name, host name, home folder, repository and kit paths, API key."""
    found = [_safe(getpass.getuser), _safe(socket.gethostname), str(Path.home()), str(paths.REPO_ROOT),
             str(paths.kit_home()), api_key() or ""]
    return [s for s in found if s and len(s) >= 4 and s not in ("/", "/root", "root")]


def _safe(read: Any) -> str:
    try:
        return str(read())
    except Exception:  # noqa: BLE001 - no user name (a container) is nothing to leak
        return ""


def check_nothing_personal(text: str, personal: list[str] | None = None) -> None:
    """BundleError naming the kind of personal string (not the string itself) found in `text`."""
    for secret in personal if personal is not None else personal_strings():
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", text, flags=re.IGNORECASE):
            kind = "the API key" if secret == api_key() else "a path" if "/" in secret or "\\" in secret \
                else "a user or host name"
            raise BundleError(f"the bundle would carry {kind} of this machine: rename the model or label that "
                              "holds it, then share again.")


def write_bundle(run_dir: str | Path, out: str | Path | None = None, label: str = "") -> Path:
    """Write the bundle of `run_dir` to `out` (default: RUN_DIR/<machine_id><BUNDLE_SUFFIX>); returns its path."""
    bundle = make_bundle(run_dir, label)
    path = Path(out) if out else Path(run_dir) / f"{bundle['machine']['machine_id']}{BUNDLE_SUFFIX}"
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the bundle"
    return f"{where}: {error['msg']}"


def parse_bundle(data: bytes, source: str = "the bundle", max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle:
    """A bundle from bytes, checked: BundleError saying why it is refused (too large, not UTF-8 JSON, a field)."""
    if len(data) > max_bytes:
        raise BundleError(f"{source}: {len(data):,} bytes is over the limit of {max_bytes:,} bytes for a bundle")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{source}: not a JSON share bundle ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{source}: not a share bundle (field `format` must be {BUNDLE_FORMAT!r}); "
                          "make one with `foundry-lab share RUN`")
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{source}: malformed share bundle: {_first_error(exc)}") from None
    expected = machine_class(bundle.machine.model_dump())  # recomputed, never trusted
    if bundle.machine.machine_class != expected:
        raise BundleError(f"{source}: malformed share bundle: machine.machine_class {bundle.machine.machine_class!r} "
                          f"does not match its cores, RAM and accelerators ({expected!r})")
    return bundle


def read_bundle_file(path: Path, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle:
    """`parse_bundle` of a file (its size checked before it is read)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise BundleError(f"{path.name}: {size:,} bytes is over the limit of {max_bytes:,} bytes for a bundle")
    return parse_bundle(path.read_bytes(), path.name, max_bytes)
