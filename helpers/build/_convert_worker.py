"""Model conversion worker: runs INSIDE the converter venv (torch, transformers, onnxruntime-genai builder).

Started by `helpers/convert.py`, never imported by the kit. It turns a GGUF file or a Hugging Face
model folder into an ONNX Runtime GenAI folder. Progress goes to stdout, one line each:

    STEP <name> <description>      a step starts
    DONE <name> <seconds>          it finished
    SKIP <name> <reason>           it was not needed
    NOTE <text>                    something the user should know about the result
    META <json>                    facts about the source for the build's provenance (the GGUF header)
    PEAK <stage> <MB>              the process's peak resident memory at the end of a stage
    PLAN <path>                    after prepare: how export will quantize, `layerwise` or `one-pass`
    ERROR <name> <json>            it failed: {"message": ..., "fix": ...}; the exit code is 2

Every other line is log output (transformers, the builder). The protocol lines come from `_convert_steps.py`, the Hugging
Face folder checks and staging from `_hf_folder.py` (sibling scripts, imported by name: the worker runs as a script).

A conversion runs in three stages, each in its own process (`--stage`), so each one's memory is returned to the
system before the next starts:
    prepare   check the target and the source (GGUF header: name, architecture), dequantize a GGUF to a
              bfloat16 Hugging Face folder (or stage a user's HF folder)
    export    run the builder: at the target precision, or, for int4/int8 of a model with untied embeddings,
              at float32 into the work folder (streamed to disk)
    quantize  quantize that float32 model a few nodes at a time (`_layerwise_quantize`), byte-identical to the
              builder's own int4/int8 output at less than half its peak memory; then delete the float32 model
"""
from __future__ import annotations

import argparse
import json
import re
import runpy
import shutil
import sys
from pathlib import Path

from _convert_steps import StepError, emit, read_json, step  # siblings: the worker runs as a script, not a package
from _hf_folder import builder_source, inspect_hf_folder, make_builder_ready, stage_hf_folder

BUILDER = "onnxruntime_genai.models.builder"
PROVIDER_ALIASES = {"trt-rtx": "nvtensorrtrtx"}  # the builder's message name -> its lower-cased -e choice


def valid_targets() -> set[tuple[str, str]]:
    """(precision, execution provider) pairs the builder declares valid, e.g. ("int4", "cpu")."""
    match = re.search(r"combinations are: ([^\"]+)\"", builder_source())
    pairs = (item.strip().lower().split(" ", 1) for item in match.group(1).split(",")) if match else ()
    return {(precision, PROVIDER_ALIASES.get(provider, provider)) for precision, provider in pairs}


DEQUANTIZE_DTYPE = "bfloat16"  # half the memory and disk of float32; its rounding is far below int4's
STAGES = ("prepare", "export", "quantize")
FLOAT32_DIR = "fp32"  # the export stage's float32 model, inside the work folder


def read_gguf_header(gguf: Path) -> dict:
    """`general.*` facts and the layer count from a GGUF header (gguf's reader maps the file; nothing is loaded)."""
    from gguf import GGUFReader

    reader = GGUFReader(gguf)

    def field(key: str) -> object:
        found = reader.get_field(key)
        return None if found is None else found.contents()

    architecture = field("general.architecture")
    return {"general.name": field("general.name"), "general.architecture": architecture,
            "general.file_type": field("general.file_type"), "general.license": field("general.license"),
            "block_count": field(f"{architecture}.block_count"), "tensor_count": len(reader.tensors)}


def check_gguf_header(gguf: Path, expect_name: str | None, expect_architecture: str | None) -> dict:
    """The GGUF's header facts; StepError when they are not what the bundle (or user) expects."""
    try:
        header = read_gguf_header(gguf)
    except Exception as error:  # a truncated or foreign file fails inside the reader in many ways
        raise StepError(f"{gguf} has no readable GGUF header ({type(error).__name__}: {error}).",
                        "The file is truncated or not a complete, uncorrupted GGUF: download it again and "
                        "compare its sha256 with the publisher's.") from error
    for key, expected in (("general.name", expect_name), ("general.architecture", expect_architecture)):
        if expected is not None and header[key] != expected:
            raise StepError(f"{gguf.name}: GGUF header {key} is {header[key]!r}, expected {expected!r}: these are "
                            "not the weights the model entry describes.",
                            "Check the packages and versions in models.json (bundle.packages) and the assembled "
                            "file's sha256; do not convert weights you cannot identify.")
    return header


def dequantize_gguf(gguf: Path, hf_dir: Path) -> None:
    """GGUF -> bfloat16 Hugging Face folder (the builder cannot read quantized GGUF)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with step("dequantize", f"load {gguf.name} with transformers and dequantize to {DEQUANTIZE_DTYPE}",
              "Check the file is a complete, uncorrupted GGUF (compare its sha256 with the publisher's) of an "
              "architecture transformers can read: " + ", ".join(gguf_architectures()) + "."):
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=getattr(torch, DEQUANTIZE_DTYPE))
    partial = hf_dir.with_name(f".{hf_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    with step("save_hf", f"save the Hugging Face folder to {hf_dir}",
              f"Check there is free disk space at {hf_dir.parent}."):
        # transformers 5 refuses to save a GGUF-loaded model while it still looks quantized;
        # the weights are plain floats by now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        make_builder_ready(partial)
        partial.rename(hf_dir)


def gguf_architectures() -> list[str]:
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    return sorted(set(GGUF_CONFIG_MAPPING) - {"general", "tokenizer"})


def builder_options(hf_dir: Path, options: dict[str, str]) -> dict[str, str]:
    """The builder's --extra_options: the user's, plus what the kit needs for this model."""
    config = read_json(hf_dir / "config.json")
    if (config.get("sliding_window") or 0) > 0:
        # A windowed cache rejects any request whose max length is below the window (e.g. 512).
        options = {"windowed_kv_cache": "false", **options}
    return options


def layerwise(hf_dir: Path, precision: str, options: dict[str, str]) -> bool:
    """True when the float32 export + `_layerwise_quantize` path gives the builder's exact result: int4/int8,
    options it honours, no Gather in int8, and untied embeddings (the builder ties quantized embeddings to the
    LM head while it builds the graph, which a later pass cannot reproduce)."""
    from _layerwise_quantize import OPTIONS

    tied = bool(read_json(hf_dir / "config.json").get("tie_word_embeddings", False))
    gather_int8 = precision == "int8" and "Gather" in options.get("op_types_to_quantize", "")
    return precision in ("int4", "int8") and not tied and not gather_int8 and set(options) <= OPTIONS


def run_builder(hf_dir: Path, out: Path, precision: str, provider: str, cache: Path, options: dict[str, str]) -> None:
    """`python -m onnxruntime_genai.models.builder ...`, run in this process (so stopping the worker stops it)."""
    argv = ["-i", str(hf_dir), "-o", str(out), "-p", precision, "-e", provider, "-c", str(cache)]
    if options:
        argv += ["--extra_options", *(f"{key}={value}" for key, value in options.items())]
    emit("Running: python -m", BUILDER, *argv)
    saved_argv, sys.argv = sys.argv, [BUILDER, *argv]
    try:
        runpy.run_module(BUILDER, run_name="__main__", alter_sys=True)
    finally:
        sys.argv = saved_argv
    if not (out / "genai_config.json").is_file():
        raise StepError("the model builder finished without writing genai_config.json.",
                        "Read the builder output in the log; check free disk space and memory.")


def patch_genai_config(out: Path, context_length: int) -> None:
    """Size the runtime's KV cache: Foundry Local allocates it for the whole `search.max_length`."""
    path = out / "genai_config.json"
    config = read_json(path)
    config["model"]["context_length"] = context_length
    config["search"]["max_length"] = context_length
    path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--source", type=Path, required=True, help="a .gguf file or a Hugging Face model folder")
    parser.add_argument("--hf-dir", type=Path, required=True,
                        help="where the dequantized HF folder of a GGUF is (or will be) kept")
    parser.add_argument("--out", type=Path, required=True, help="output folder (must not exist)")
    parser.add_argument("--work-dir", type=Path, required=True, help="scratch folder (staging, builder cache)")
    parser.add_argument("--precision", required=True)
    parser.add_argument("--execution-provider", required=True)
    parser.add_argument("--context-length", type=int, required=True)
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a builder --extra_options entry (repeatable)")
    parser.add_argument("--expect-name", help="the GGUF's general.name must be this")
    parser.add_argument("--expect-architecture", help="the GGUF's general.architecture must be this")
    return parser.parse_args(argv)


def hf_folder(args: argparse.Namespace) -> Path:
    return args.work_dir / "hf" if args.source.is_dir() else args.hf_dir


def prepare(args: argparse.Namespace) -> None:
    with step("target", f"check the builder can make {args.precision} for {args.execution_provider}",
              "The converter environment looks broken: delete it and convert again (it is rebuilt)."):
        targets = valid_targets()
        if targets and (args.precision, args.execution_provider.lower()) not in targets:
            raise StepError(f"the builder cannot make {args.precision} for {args.execution_provider}.",
                            "Valid precision/execution provider pairs: "
                            + ", ".join(f"{p}/{e}" for p, e in sorted(targets)) + ".")
    hf_dir = hf_folder(args)
    if args.source.is_dir():
        with step("inspect", f"check {args.source}", "Check the model folder is complete."):
            inspect_hf_folder(args.source, args.context_length)
        with step("save_hf", "stage a builder-ready copy of the model folder (weights linked)",
                  "Check the model folder is readable and there is free disk space."):
            shutil.rmtree(hf_dir, ignore_errors=True)
            stage_hf_folder(args.source, hf_dir)
            make_builder_ready(hf_dir)
        emit_plan(args, hf_dir)
        return
    with step("header", f"read the GGUF header of {args.source.name}",
              "Download the GGUF again and compare its sha256 with the publisher's."):
        emit("META", json.dumps(check_gguf_header(args.source, args.expect_name, args.expect_architecture)))
    if hf_dir.is_dir():
        emit("SKIP", "dequantize", f"reusing {hf_dir}")
        emit("SKIP", "save_hf", f"reusing {hf_dir}")
    else:
        hf_dir.parent.mkdir(parents=True, exist_ok=True)
        dequantize_gguf(args.source, hf_dir)
    with step("inspect", f"check {hf_dir}", f"Delete {hf_dir} and convert again."):
        inspect_hf_folder(hf_dir, args.context_length)
    emit_plan(args, hf_dir)


def emit_plan(args: argparse.Namespace, hf_dir: Path) -> None:
    options = builder_options(hf_dir, dict(item.split("=", 1) for item in args.option))
    emit("PLAN", "layerwise" if layerwise(hf_dir, args.precision, options) else "one-pass")


def export(args: argparse.Namespace) -> None:
    hf_dir = hf_folder(args)
    options = builder_options(hf_dir, dict(item.split("=", 1) for item in args.option))
    if layerwise(hf_dir, args.precision, options):
        float32 = args.work_dir / FLOAT32_DIR
        shutil.rmtree(float32, ignore_errors=True)
        with step("build", f"export the float32 {args.execution_provider} ONNX model (quantized next, in its "
                  "own process)", "Read the builder output in the log; check free disk space and memory."):
            run_builder(hf_dir, float32, "fp32", args.execution_provider, args.work_dir / "cache", {})
        return
    with step("build", f"build the {args.precision} {args.execution_provider} ONNX model",
              "Read the builder output in the log; check free disk space and memory."):
        run_builder(hf_dir, args.out, args.precision, args.execution_provider, args.work_dir / "cache", options)
    with step("patch_config", f"set context length {args.context_length} in genai_config.json",
              "The builder wrote an unexpected genai_config.json; report it."):
        patch_genai_config(args.out, args.context_length)


def quantize(args: argparse.Namespace) -> None:
    float32 = args.work_dir / FLOAT32_DIR
    if not float32.is_dir():
        emit("SKIP", "quantize", "the builder quantized while building")
        return
    from _layerwise_quantize import MODEL_FILE, quantize_folder

    options = dict(item.split("=", 1) for item in args.option)
    with step("quantize", f"quantize the float32 model to {args.precision}, a few nodes at a time",
              "Check free memory and disk space, then convert again."):
        count = quantize_folder(float32, args.out, 4 if args.precision == "int4" else 8, options)
        for item in float32.iterdir():
            if not item.name.startswith(MODEL_FILE):
                shutil.copy2(item, args.out / item.name)
        emit("NOTE", f"quantized {count} weight tensors to {args.precision}")
    shutil.rmtree(float32)
    with step("patch_config", f"set context length {args.context_length} in genai_config.json",
              "The builder wrote an unexpected genai_config.json; report it."):
        patch_genai_config(args.out, args.context_length)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    {"prepare": prepare, "export": export, "quantize": quantize}[args.stage](args)
    peak = peak_rss_mb()
    if peak is not None:
        emit("PEAK", args.stage, f"{peak:.0f}")


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB (10^6 bytes); None where the OS does not say (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # macOS: bytes; Linux: KiB


if __name__ == "__main__":
    main()
