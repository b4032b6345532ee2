"""Bring your own model: convert a GGUF file, a Hugging Face folder or repo id, register it, probe it.

One converter: `convert.convert_model` (the same path the bundled models take) builds the ONNX Runtime GenAI folder
into `paths.user_models_dir()/<name>`; `runtime.register` makes it usable at once, in-process and over the
built-in web service, and every later `runtime.start()` finds it again. Re-running with the same inputs is a no-op
(the build's content hashes are checked), `force=True` rebuilds.

    python -m helpers byom SOURCE --name NAME [--precision int8] [--ep cpu] [--context-length 2048] [--force]
"""
from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..build import convert, threads
from ..core import paths
from ..core.config import load_models
from ..core.lists import comma_list
from ..measure.timing import TrialTiming, time_inprocess_chat
from ..serve import runtime

if TYPE_CHECKING:
    import argparse

HF_HOST = "huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
HF_FILES = ["*.json", "*.safetensors", "*.model", "*.jinja", "*.txt"]  # what the builder reads; no other formats
PROBE_PROMPT = "In one sentence: what is a small language model?"


@dataclass(frozen=True)
class ByomBuild:
    """A converted model folder and how it got there."""

    name: str
    path: Path
    status: str  # "built" or "up to date"
    seconds: float
    manifest: dict


def model_path(name: str) -> Path:
    return paths.user_models_dir() / name


def check_name(name: str) -> None:
    """A name is a folder, a catalog alias and a model id: lowercase, and not one of the bundled models."""
    if not NAME.match(name):
        raise ValueError(f"model name {name!r}: use lowercase letters, digits, '.', '-' or '_' "
                         "(it becomes a folder and the model's alias), e.g. smollm2-135m-fp32.")
    entry = load_models().models.get(name)
    if entry is not None and entry.source == "bundled":
        raise ValueError(f"model name {name!r} is a bundled model in models.json (rebuilt by `python -m helpers "
                         "build`); choose another name.")


def resolve_source(source: str | Path, progress: convert.Progress = print) -> Path:
    """A local .gguf or model folder as is; a Hugging Face repo id (owner/name) downloaded into the kit home once."""
    path = Path(source).expanduser()
    if path.exists() or not REPO_ID.match(str(source)):
        return path  # convert_model names a missing path
    return download_repo(str(source), progress)


def download_repo(repo_id: str, progress: convert.Progress = print) -> Path:
    """`huggingface_hub.snapshot_download` in the converter environment; fails fast, with advice, when offline."""
    target = paths.kit_home() / "hf" / "repos" / repo_id.replace("/", "--")
    if (target / "config.json").is_file():
        progress(f"Using the earlier download of {repo_id} in {target}.")
        return target
    try:
        socket.create_connection((HF_HOST, 443), timeout=3).close()
    except OSError:
        raise convert.ConversionError(
            "download", f"{HF_HOST} is unreachable (offline), so the repository {repo_id} cannot be downloaded.",
            f"On a machine with internet run `huggingface-cli download {repo_id} --local-dir FOLDER`, copy FOLDER "
            "here and pass it instead; or pass a local .gguf file.") from None
    python = convert.ensure_converter_env(progress)
    progress(f"Downloading {repo_id} from {HF_HOST} into {target} ...")
    code = ("import sys; from huggingface_hub import snapshot_download; "
            f"snapshot_download(sys.argv[1], local_dir=sys.argv[2], allow_patterns={HF_FILES!r})")
    convert._run_logged("download", [str(python), "-c", code, repo_id, str(target)],
                        convert._log_path(f"download-{target.name}"), progress,
                        fix=f"Check the repository id {repo_id} on {HF_HOST} (gated models need "
                            "`huggingface-cli login` in the converter environment), then retry.")
    return target


def build(source: str | Path, name: str, precision: str = "int4", execution_provider: str = "cpu",
          context_length: int = 2048, *, display_name: str | None = None, license: str = "unknown",
          capabilities: tuple[str, ...] = ("chat",), force: bool = False,
          progress: convert.Progress = print) -> ByomBuild:
    """Convert `source` into `user_models_dir()/name` unless an intact build of the same inputs is there."""
    check_name(name)
    started = time.monotonic()
    local = resolve_source(source, progress)
    out = model_path(name)
    if not force and local.exists():
        inputs = convert.conversion_inputs(local.resolve(), precision, execution_provider, context_length)
        if convert.is_up_to_date(out, inputs):
            progress(f"{name}: up to date ({out}); pass force=True / --force to rebuild.")
            threads.apply(out)
            return ByomBuild(name, out, "up to date", round(time.monotonic() - started, 1), convert.read_manifest(out))
    info = {"name": name, "display_name": display_name or name, "license": license,
            "capabilities": list(capabilities), "source": str(source)}
    convert.convert_model(local, out, precision, execution_provider, context_length, info=info, progress=progress)
    threads.apply(out)  # this machine's decode thread count (helpers.build.threads)
    return ByomBuild(name, out, "built", round(time.monotonic() - started, 1), convert.read_manifest(out))


def probe(name: str, prompt: str = PROBE_PROMPT, max_tokens: int = 48,
          rt: runtime.LabRuntime | None = None) -> TrialTiming:
    """Load a registered model in-process and time one answer."""
    model, _ = runtime.get_model(name, runtime=rt)
    runtime.load(model)
    return time_inprocess_chat(model, [{"role": "user", "content": prompt}], max_tokens=max_tokens)


def main(args: "argparse.Namespace") -> int:
    """CLI entry (`python -m helpers byom`): convert, register, probe; 0 when the model answered, 2 on a bad input."""
    try:
        built = build(args.source, args.name, args.precision, args.ep, args.context_length,
                      display_name=args.display_name, license=args.license,
                      capabilities=tuple(comma_list(args.capabilities)),
                      force=args.force)
    except (convert.ConversionError, ValueError) as exc:
        print(exc)
        return 2
    print(f"{built.name}: {built.status} in {built.seconds:.1f} s, {built.manifest['size_mb']:.0f} MB ({built.path})")
    if args.no_probe:
        return 0
    rt = runtime.start()
    runtime.register(built.path, rt)
    answer = probe(built.name, rt=rt)
    if answer.error:
        print(f"{built.name} is registered but did not answer: {answer.error}")
        return 1
    print(f"{built.name} answers in {answer.e2e_ms:.0f} ms: {answer.text.strip()}")
    print(f"Registered: every later `runtime.start()` (notebooks, bench, serve) finds it; "
          f"benchmark it with `python -m helpers bench --models {built.name}`.")
    return 0
