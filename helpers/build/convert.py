"""Convert a GGUF file or a Hugging Face model folder into an ONNX Runtime GenAI folder that Foundry Local runs.

This module runs in the kit's main environment and imports only the standard library. The heavy work
(torch, transformers, the onnxruntime-genai model builder) runs in a separate converter environment,
created on demand from `converter-requirements.txt`, through the worker script `_convert_worker.py`.

A finished folder holds `kit_model.json`: the build inputs and a sha256 of every file, so
`is_up_to_date` can tell a complete, unchanged build from a stale, corrupted or interrupted one.
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

from .. import paths
from ..errors import ClearError

REQUIREMENTS_FILE = Path(__file__).with_name("converter-requirements.txt")
WORKER = Path(__file__).with_name("_convert_worker.py")
MANIFEST_NAME = "kit_model.json"
MANIFEST_FORMAT = 1
PRECISIONS = ("int4", "int8", "fp16", "fp32")
VENV_STAMP = "kit-requirements.sha256"
VENV_NEEDS_MB = 3000  # installed converter environment ~1.3 GB, plus pip's downloads and unpacking
# Disk estimates: a float32 HF folder is ~4.5-6x its 4-bit GGUF; the ONNX output is this share of the HF folder.
HF_PER_GGUF_BYTE = 7
OUTPUT_PER_HF_BYTE = {"int4": 0.35, "int8": 0.6, "fp16": 0.6, "fp32": 1.1}
MARGIN_MB = 256

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
                      context_length: int = 2048, source_sha: str | None = None) -> dict:
    """Everything a build depends on; a change in any of them means the output must be rebuilt."""
    return {
        "source_sha256": source_sha or source_sha256(Path(source)),
        "precision": precision,
        "execution_provider": execution_provider,
        "context_length": context_length,
        "converter_requirements_sha256": requirements_hash(),
    }


def read_manifest(out_dir: Path) -> dict | None:
    """The `kit_model.json` of a finished build, or None."""
    try:
        return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
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


def _disk_needs(source: Path, hf_dir: Path, precision: str) -> tuple[float, float]:
    """(MB for the HF folder, MB for the ONNX output)."""
    if source.is_dir():
        hf_mb = folder_size_mb(source)
        return 0.0, hf_mb * OUTPUT_PER_HF_BYTE[precision]
    if hf_dir.is_dir():
        return 0.0, folder_size_mb(hf_dir) * OUTPUT_PER_HF_BYTE[precision]
    hf_mb = source.stat().st_size / 1e6 * HF_PER_GGUF_BYTE
    return hf_mb, hf_mb * OUTPUT_PER_HF_BYTE[precision]


def convert_model(source: str | Path, out_dir: str | Path, precision: str = "int4", execution_provider: str = "cpu",
                  context_length: int = 2048, info: dict | None = None, progress: Progress = print,
                  source_sha: str | None = None) -> dict:
    """Build `out_dir` from a GGUF file or a HF model folder; always builds (check `is_up_to_date` first).

    `info` (display name, license, ...) is stored in `kit_model.json` next to the inputs. The output appears
    only when complete: it is built in a hidden sibling folder and renamed at the end. Returns the manifest.
    Raises ConversionError naming the failed step and what to do.
    """
    source, out_dir = Path(source).expanduser().resolve(), Path(out_dir).expanduser().resolve()
    if precision not in PRECISIONS:
        raise ConversionError("inspect", f"unknown precision {precision!r}.", f"Use one of {', '.join(PRECISIONS)}.")
    _check_source(source)
    inputs = conversion_inputs(source, precision, execution_provider, context_length, source_sha)
    hf_dir = hf_cache_dir(inputs["source_sha256"])
    hf_mb, out_mb = _disk_needs(source, hf_dir, precision)
    _check_disk("inspect", [(hf_dir, hf_mb), (out_dir, out_mb + MARGIN_MB)])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    python = ensure_converter_env(progress)

    partial, work = (out_dir.with_name(f".{out_dir.name}.{kind}") for kind in ("partial", "work"))
    for leftover in (partial, work):
        shutil.rmtree(leftover, ignore_errors=True)
    start = time.monotonic()
    progress(f"Converting {source.name} -> {out_dir.name} ({precision}, {execution_provider}, "
             f"context {context_length})")
    try:
        work.mkdir()
        _run_worker(python, ["--source", str(source), "--hf-dir", str(hf_dir), "--out", str(partial),
                             "--work-dir", str(work), "--precision", precision,
                             "--execution-provider", execution_provider, "--context-length", str(context_length)],
                    _log_path(out_dir.name), progress)
        build_seconds = round(time.monotonic() - start, 1)
        manifest = {
            "format": MANIFEST_FORMAT,
            **(info or {}),
            "precision": precision,
            "execution_provider": execution_provider,
            "context_length": context_length,
            "source_file": source.name,
            "build_seconds": build_seconds,
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
    progress(f"Built {out_dir} in {build_seconds:.0f} s ({manifest['size_mb']:.0f} MB).")
    return manifest


def _replace_folder(new: Path, target: Path) -> None:
    """Put `new` at `target`; the old build is moved aside first, so `target` is never half-written."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _run_worker(python: Path, arguments: list[str], log: Path, progress: Progress) -> None:
    """Run the worker in the converter venv; relay its STEP/DONE/SKIP/NOTE lines, raise its ERROR line."""
    command = [str(python), str(WORKER), *arguments]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    error: ConversionError | None = None
    tail: deque[str] = deque(maxlen=12)
    with open(log, "w", encoding="utf-8") as log_file, subprocess.Popen(
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
