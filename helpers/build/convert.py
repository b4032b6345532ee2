"""Convert a GGUF file or a Hugging Face model folder into an ONNX Runtime GenAI folder that Foundry Local runs.

This module runs in the kit's main environment and imports only the standard library. The heavy work
(torch, transformers, the onnxruntime-genai model builder) runs in a separate converter environment,
created on demand from `converter-requirements.txt`, through the worker script `_convert_worker.py`.

A finished folder holds `kit_model.json`: the build inputs and a sha256 of every file, so
`is_up_to_date` can tell a complete, unchanged build from a stale, corrupted or interrupted one, plus the source's
GGUF header facts and each stage's time and peak memory.

The worker runs three times, one process per stage (prepare: header check and dequantization; export: the
builder; quantize: int4/int8 a few nodes at a time), so no stage holds another's memory. Before it starts,
free disk and available memory are checked against an estimate for this source (`resource_estimate`), and the
dequantized Hugging Face folder is deleted when the build is done unless the caller keeps it for a second
precision of the same source.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..core import paths
from ..core.errors import ClearError

REQUIREMENTS_FILE = Path(__file__).with_name("converter-requirements.txt")
WORKER = Path(__file__).with_name("_convert_worker.py")
MANIFEST_NAME = "kit_model.json"
MANIFEST_FORMAT = 1
PRECISIONS = ("int4", "int8", "fp16", "fp32")
VENV_STAMP = "kit-requirements.sha256"
VENV_NEEDS_MB = 3000  # installed converter environment ~1.3 GB, plus pip's downloads and unpacking
STAGES = ("prepare", "export", "quantize")
DEQUANTIZE_DTYPE = "bfloat16"  # the worker's DEQUANTIZE_DTYPE; part of every GGUF build's inputs
# Estimates per MB of 4-bit GGUF, measured on Qwen2.5-Coder 0.5B and 1.5B Q4_K_M (ladder-findings.md): the
# bfloat16 HF folder is ~3.1x the GGUF, the float32 ONNX export twice that; the output is this share of the
# float32 export. Peak memory of the worst stage: ~1 GB of libraries plus 4.5x the GGUF (bfloat16 weights plus
# the tensor being converted); 9x when the builder quantizes in one process (tied embeddings).
HF_PER_GGUF_BYTE = 3.1
FP32_PER_HF_BYTE = 2.0
OUTPUT_PER_FP32_BYTE = {"int4": 0.28, "int8": 0.45, "fp16": 0.5, "fp32": 1.0}
BASE_MEMORY_MB = 1000
MEMORY_PER_GGUF_BYTE = 4.5  # dequantizing (prepare) and the lean path's export and quantize stages
MEMORY_PER_HF_BYTE = {"layerwise": 1.7, "one-pass": 5.0}  # export, per MB of the bfloat16 HF folder
MARGIN_MB = 256
KEEP_HF_MAX_MB = 1000  # dequantized HF folders up to this size stay cached (a second precision skips dequantizing)

Progress = Callable[[str], None]


class ConversionError(ClearError, RuntimeError):
    """A conversion step failed; `fix` says what the user can do about it."""

    def __init__(self, step: str, message: str, fix: str) -> None:
        super().__init__(f"conversion step '{step}' failed: {message}\nWhat to do: {fix}")
        self.step, self.message, self.fix = step, message, fix


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def requirements_hash() -> str:
    """Identifies the converter pins; part of every build's inputs."""
    return file_sha256(REQUIREMENTS_FILE)


def converter_python() -> Path:
    return paths.venv_python(paths.converter_venv_dir())


def _existing(path: Path) -> Path:
    return next(p for p in [path, *path.parents] if p.exists())


def _check_disk(step: str, needs: list[tuple[Path, float]]) -> None:
    """Raise unless each disk has the MB needed at these places (needs on the same disk add up)."""
    by_disk: dict[int, tuple[Path, float]] = {}
    for where, mb in needs:
        device = _existing(where).stat().st_dev
        first, total = by_disk.get(device, (where, 0.0))
        by_disk[device] = (first, total + mb)
    for where, needed in by_disk.values():
        free = shutil.disk_usage(_existing(where)).free / 1e6
        if free < needed:
            raise ConversionError(step, f"not enough free disk at {where}: {free:,.0f} MB free, about "
                                        f"{needed:,.0f} MB needed.",
                                  f"Free at least {needed - free:,.0f} MB there, or set FOUNDRY_LAB_HOME to a "
                                  "folder on a larger disk.")


def ensure_converter_env(progress: Progress = print) -> Path:
    """Create the converter venv and install the pinned requirements, unless it already has exactly them.

    Returns the venv's python. The check is cheap: a stamp file with the hash of the requirements file.
    """
    venv_dir, python = paths.converter_venv_dir(), converter_python()
    stamp = venv_dir / VENV_STAMP
    wanted = requirements_hash()
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == wanted:
        return python
    _check_disk("install", [(venv_dir, VENV_NEEDS_MB)])
    start = time.monotonic()
    log = _log_path("converter-venv")
    progress(f"Setting up the converter environment in {venv_dir} (torch, transformers, onnxruntime-genai; "
             f"a few minutes, once). Log: {log}")
    if not python.exists():
        _run_logged("install", [sys.executable, "-m", "venv", str(venv_dir)], log, progress,
                    fix=f"Check that `{sys.executable} -m venv` works (on Debian/Ubuntu: apt install python3-venv).")
    _run_logged("install", [str(python), "-m", "pip", "install", "--disable-pip-version-check",
                            "-r", str(REQUIREMENTS_FILE)], log, progress,
                fix=f"Check the package index is reachable, then retry; if it keeps failing delete {venv_dir}.",
                show=("Collecting ", "Successfully installed"))
    stamp.write_text(wanted + "\n")
    progress(f"Converter environment ready in {time.monotonic() - start:.0f} s.")
    return python


def _log_path(name: str) -> Path:
    folder = paths.logs_dir() / "convert"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def _run_logged(step: str, command: list[str], log: Path, progress: Progress, fix: str,
                show: tuple[str, ...] = ()) -> None:
    """Run a command, append its output to `log`, echo lines starting with `show`; fail with the output's tail."""
    tail: deque[str] = deque(maxlen=12)
    with open(log, "a", encoding="utf-8") as log_file, subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        log_file.write("$ " + " ".join(command) + "\n")
        for line in process.stdout:
            log_file.write(line)
            tail.append(line.rstrip())
            if line.startswith(show):
                progress("  " + line.split(" (from ")[0].strip())
    if process.returncode != 0:
        raise ConversionError(step, f"`{' '.join(command[:4])} ...` exited with {process.returncode}:\n"
                                    + "\n".join(tail) + f"\n(full log: {log})", fix)


def source_sha256(source: Path) -> str:
    """sha256 of a GGUF file, or of a model folder's file names and contents."""
    source = Path(source)
    if source.is_file():
        return file_sha256(source)
    digest = hashlib.sha256()
    for name, sha in sorted(_hash_files(source).items()):
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


def _hash_files(folder: Path, skip: str | None = None) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != skip}


def conversion_inputs(source: Path, precision: str = "int4", execution_provider: str = "cpu",
                      context_length: int = 2048, source_sha: str | None = None,
                      builder_options: dict[str, str] | None = None) -> dict:
    """Everything a build depends on; a change in any of them means the output must be rebuilt."""
    return {
        "source_sha256": source_sha or source_sha256(Path(source)),
        "precision": precision,
        "execution_provider": execution_provider,
        "context_length": context_length,
        "builder_options": dict(sorted((builder_options or {}).items())),
        "dequantize_dtype": DEQUANTIZE_DTYPE,
        "converter_requirements_sha256": requirements_hash(),
    }


def read_manifest(out_dir: Path) -> dict | None:
    """The `kit_model.json` of a finished build, or None."""
    try:
        return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8-sig"))  # BOM accepted
    except (OSError, ValueError):
        return None


def is_up_to_date(out_dir: Path, expected_inputs: dict) -> bool:
    """True when `out_dir` was built from exactly these inputs and every recorded file is intact (re-hashed)."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if not manifest or manifest.get("format") != MANIFEST_FORMAT or manifest.get("inputs") != expected_inputs:
        return False
    files = manifest.get("files") or {}
    return bool(files) and all((out_dir / name).is_file() and file_sha256(out_dir / name) == sha
                               for name, sha in files.items())


def folder_size_mb(folder: Path) -> float:
    """Size of the files under `folder` in MB = 10^6 bytes, the kit's one size unit."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def _check_source(source: Path) -> None:
    """Cheap checks that need no converter environment."""
    if not source.exists():
        raise ConversionError("inspect", f"{source} does not exist.",
                              "Give the path of a .gguf file or of a model folder.")
    if source.is_dir():
        if not (source / "config.json").is_file():
            raise ConversionError("inspect", f"{source} has no config.json, so it is not a Hugging Face model folder.",
                                  "Point to the folder that holds config.json, the weights (*.safetensors) and the "
                                  "tokenizer, or to a .gguf file.")
        return
    with open(source, "rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise ConversionError("inspect", f"{source} is not a GGUF file (it does not start with the GGUF signature); "
                                         "it is corrupted or of another format.",
                              "Download the .gguf again and compare its sha256 with the publisher's, or point to a "
                              "Hugging Face model folder.")


def hf_cache_dir(gguf_sha: str) -> Path:
    """Where the dequantized HF folder of a GGUF is kept, so a second precision skips dequantization."""
    return paths.kit_home() / "hf" / gguf_sha[:16]


def resource_estimate(source: Path, hf_dir: Path, precision: str) -> dict[str, float]:
    """About how much a build of `source` needs, in MB: `hf_mb` (a new dequantized HF folder; 0 when it exists or
    the source is a folder), `work_mb` (the float32 export, deleted after quantizing), `output_mb`, and
    `memory_mb` (peak resident memory of the largest stage, assuming the lean layer-wise path for int4/int8)."""
    path = "layerwise" if precision in ("int4", "int8") else "one-pass"
    if source.is_dir() or hf_dir.is_dir():
        hf_existing = folder_size_mb(source if source.is_dir() else hf_dir)
        hf_new, memory = 0.0, export_memory_mb(hf_existing, path)
    else:
        gguf_mb = source.stat().st_size / 1e6
        hf_existing, hf_new = 0.0, gguf_mb * HF_PER_GGUF_BYTE
        memory = BASE_MEMORY_MB + gguf_mb * MEMORY_PER_GGUF_BYTE
    fp32_mb = (hf_existing or hf_new) * FP32_PER_HF_BYTE
    return {"hf_mb": round(hf_new), "work_mb": round(fp32_mb if path == "layerwise" else 0.0),
            "output_mb": round(fp32_mb * OUTPUT_PER_FP32_BYTE[precision]), "memory_mb": round(memory)}


def export_memory_mb(hf_mb: float, plan: str) -> float:
    """Peak memory of the export stage for a HF folder of `hf_mb`: `layerwise` (float32 export streamed to disk)
    or `one-pass` (the builder quantizes in memory: tied embeddings, or options the lean path does not honour)."""
    return BASE_MEMORY_MB + hf_mb * MEMORY_PER_HF_BYTE[plan]


def available_memory_mb() -> float:
    """Memory the system can give a new process now without swapping (psutil `available`), in MB."""
    import psutil  # the kit's environment has it; imported here so `python -m helpers setup` needs only stdlib

    return psutil.virtual_memory().available / 1e6


def _check_memory(step: str, needed_mb: float, what: str) -> None:
    available = available_memory_mb()
    if available < needed_mb:
        raise ConversionError(step, f"{what} needs about {needed_mb / 1e3:,.1f} GB of memory at its peak; "
                                    f"{available / 1e3:,.1f} GB is available now.",
                              "Close other programs (notebook kernels, browsers, other conversions) and retry, or "
                              "convert on a machine with more memory and copy the output folder here.")


def convert_model(source: str | Path, out_dir: str | Path, precision: str = "int4", execution_provider: str = "cpu",
                  context_length: int = 2048, info: dict | None = None, progress: Progress = print,
                  source_sha: str | None = None, builder_options: dict[str, str] | None = None,
                  expect: dict[str, str] | None = None, keep_hf: bool | None = None) -> dict:
    """Build `out_dir` from a GGUF file or a HF model folder; always builds (check `is_up_to_date` first).

    `info` (display name, license, ...) is stored in `kit_model.json` next to the inputs. `builder_options`
    are the builder's --extra_options (e.g. {"op_types_to_quantize": "MatMul/Gather"}). `expect` maps GGUF header
    keys ("general.name", "general.architecture") to the values the source must have; checked before anything is
    converted. `keep_hf`: keep the dequantized HF folder (True, e.g. for another precision of the same source),
    delete it (False), or keep it only up to KEEP_HF_MAX_MB (None). The output
    appears only when complete: it is built in a hidden sibling folder and renamed at the end. Returns the
    manifest. Raises ConversionError naming the failed step and what to do.
    """
    source, out_dir = Path(source).expanduser().resolve(), Path(out_dir).expanduser().resolve()
    if precision not in PRECISIONS:
        raise ConversionError("inspect", f"unknown precision {precision!r}.", f"Use one of {', '.join(PRECISIONS)}.")
    _check_source(source)
    inputs = conversion_inputs(source, precision, execution_provider, context_length, source_sha, builder_options)
    hf_dir = hf_cache_dir(inputs["source_sha256"])
    need = resource_estimate(source, hf_dir, precision)
    progress(f"{out_dir.name}: needs about {(need['hf_mb'] + need['work_mb'] + need['output_mb']) / 1e3:,.1f} GB "
             f"of free disk while building ({need['output_mb'] / 1e3:,.1f} GB kept) and "
             f"{need['memory_mb'] / 1e3:,.1f} GB of memory at its peak; "
             f"{shutil.disk_usage(_existing(out_dir)).free / 1e9:,.1f} GB free, "
             f"{available_memory_mb() / 1e3:,.1f} GB available.")
    _check_disk("inspect", [(hf_dir, need["hf_mb"]), (out_dir, need["work_mb"] + need["output_mb"] + MARGIN_MB)])
    _check_memory("inspect", need["memory_mb"], f"Converting {source.name}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    python = ensure_converter_env(progress)

    partial, work = (out_dir.with_name(f".{out_dir.name}.{kind}") for kind in ("partial", "work"))
    for leftover in (partial, work):
        shutil.rmtree(leftover, ignore_errors=True)
    start = time.monotonic()
    progress(f"Converting {source.name} -> {out_dir.name} ({precision}, {execution_provider}, "
             f"context {context_length})")
    arguments = ["--source", str(source), "--hf-dir", str(hf_dir), "--out", str(partial), "--work-dir", str(work),
                 "--precision", precision, "--execution-provider", execution_provider,
                 "--context-length", str(context_length),
                 *(f"--option={key}={value}" for key, value in (builder_options or {}).items()),
                 *(f"--expect-{key.removeprefix('general.')}={value}" for key, value in (expect or {}).items())]
    log = _log_path(out_dir.name)
    log.write_text("", encoding="utf-8")
    try:
        work.mkdir()
        report: dict = {"steps": {}, "source_header": None}
        for stage in STAGES:
            if stage == "export":
                hf_mb = folder_size_mb(work / "hf" if source.is_dir() else hf_dir)
                _check_memory("export", export_memory_mb(hf_mb, report.get("plan", "one-pass")),
                              f"Building {out_dir.name} ({report.get('plan', 'one-pass')})")
            stage_start = time.monotonic()
            _run_worker(python, [f"--stage={stage}", *arguments], log, progress, report)
            report["steps"].setdefault(stage, {})["seconds"] = round(time.monotonic() - stage_start, 1)
        build_seconds = round(time.monotonic() - start, 1)
        manifest = {
            "format": MANIFEST_FORMAT,
            **(info or {}),
            "precision": precision,
            "execution_provider": execution_provider,
            "context_length": context_length,
            "builder_options": dict(builder_options or {}),
            "source_file": source.name,
            "source_header": report["source_header"],
            "build_seconds": build_seconds,
            "build_steps": report["steps"],
            "peak_rss_mb": max((step.get("peak_rss_mb", 0) for step in report["steps"].values()), default=None),
            "size_mb": round(folder_size_mb(partial), 1),
            "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "inputs": inputs,
            "files": _hash_files(partial),
        }
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace_folder(partial, out_dir)
    finally:
        for leftover in (partial, work):
            shutil.rmtree(leftover, ignore_errors=True)
        if keep_hf is False or (keep_hf is None and hf_dir.is_dir() and folder_size_mb(hf_dir) > KEEP_HF_MAX_MB):
            shutil.rmtree(hf_dir, ignore_errors=True)
    progress(f"Built {out_dir} in {build_seconds:.0f} s ({manifest['size_mb']:.0f} MB, peak memory "
             f"{manifest['peak_rss_mb'] or 0:,.0f} MB).")
    return manifest


def _replace_folder(new: Path, target: Path) -> None:
    """Put `new` at `target`; the old build is moved aside first, so `target` is never half-written."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _run_worker(python: Path, arguments: list[str], log: Path, progress: Progress, report: dict) -> None:
    """Run one worker stage in the converter venv; relay its STEP/DONE/SKIP/NOTE lines, record META (the source
    header) and PEAK (the stage's peak memory) in `report`, raise its ERROR line."""
    command = [str(python), str(WORKER), *arguments]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    error: ConversionError | None = None
    tail: deque[str] = deque(maxlen=12)
    with open(log, "a", encoding="utf-8") as log_file, subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        try:
            log_file.write("$ " + " ".join(command) + "\n")
            for line in process.stdout:
                log_file.write(line)
                kind, _, rest = line.rstrip("\n").partition(" ")
                step, _, detail = rest.partition(" ")
                if kind == "STEP":
                    progress(f"  {step}: {detail} ...")
                elif kind == "DONE":
                    progress(f"  {step}: done in {float(detail):.1f} s")
                elif kind == "SKIP":
                    progress(f"  {step}: skipped, {detail}")
                elif kind == "NOTE":
                    progress(f"  note: {rest}")
                elif kind == "META":
                    report["source_header"] = json.loads(rest)
                elif kind == "PLAN":
                    report["plan"] = step
                elif kind == "PEAK":
                    report["steps"].setdefault(step, {})["peak_rss_mb"] = float(detail)
                    progress(f"  {step}: peak memory {float(detail):,.0f} MB")
                elif kind == "ERROR":
                    details = json.loads(detail)
                    error = ConversionError(step, details["message"] + f"\n(full log: {log})", details["fix"])
                else:
                    tail.append(line.rstrip())
        except BaseException:  # an interrupt (or a bad callback) must not leave the worker running
            process.kill()
            raise
    if error is not None:
        raise error
    if process.returncode != 0:
        raise ConversionError("worker", f"the converter exited with {process.returncode}:\n" + "\n".join(tail)
                              + f"\n(full log: {log})",
                              f"Read the log; if the converter environment is broken, delete "
                              f"{paths.converter_venv_dir()} and retry.")
