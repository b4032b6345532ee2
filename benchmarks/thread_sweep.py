"""Decode threads 1…N for each bundled ladder model: TTFT and decode tok/s with their spread, idle and under load.

For every repeat, model, engine and thread count (in that nesting; the thread order reverses on every
other repeat, ABBA, so a slow drift of the machine hits every count alike) one cell runs: load the model with that
thread count, `--warmup` requests (not counted), `--requests` timed requests (the same prompt, temperature 0,
`--max-tokens`), unload. Engines:

- `foundry`: Foundry Local in this process through the kit (`runtime.load(model, threads=N)`: the override of
  `helpers.build.threads`, exactly what `bench --threads N` does; `auto`: no override, exactly what `bench` does:
  the build's count, fewer when other processes keep cores busy as the model loads);
- `genai`: the bare onnxruntime-genai 0.18 loop (`benchmarks/_genai_loop.py`, in the converter environment, thread
  count through `Config.overlay`): the reference without Foundry Local around it.

llama.cpp is not included: its Python package builds from source (many minutes on a 2-core machine), the kit does
not install it, and the figures would not compare the same weights (the GGUF, not the int4 ONNX build).

Condition: `idle`, or with `--load` `loaded`: one competing CPU-bound process (a Python busy loop) runs through
every cell (run the script twice, without and with `--load`: each run stays near 6 minutes). A cell's value is the
median of its timed requests; the table gives, per condition × model × engine × threads, the median over repeats,
the spread ((max − min) / median of the repeats' values, %), the decode speed-up against one thread, and decode as
% of this machine's roofline (`helpers.measure.roofline`).

Run from the repository root (about 6 minutes with the defaults on an otherwise idle 2-core machine):
`python -m benchmarks.thread_sweep [--models a,b] [--threads 1,2] [--repeats 3] [--requests 2] [--warmup 1]
[--max-tokens 64] [--engines foundry,genai] [--load] [--json FILE]`
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil

from helpers.build import convert
from helpers.core.cpus import machine_choice, usable_cpus
from helpers.core.lists import comma_list
from helpers.measure import roofline
from helpers.measure.timing import time_inprocess_chat
from helpers.serve import runtime

LADDER = ["smollm2-135m-instruct-int4", "qwen2.5-coder-0.5b-instruct-int4", "qwen2.5-coder-1.5b-instruct-int4"]
PROMPT = "List three benefits of running a language model locally, one line each."
GENAI_LOOP = Path(__file__).with_name("_genai_loop.py")
BUSY_LOOP = "while True: pass"
AUTO = "auto"  # a cell without a thread override: what `bench` does (the build's count, fewer beside busy cores)


def foundry_cell(rt: runtime.LabRuntime, name: str, threads: int | str, args: argparse.Namespace) -> list[dict]:
    """One cell on Foundry Local in-process: load with `threads` (AUTO: no override, the kit's own choice at load
    time), warm up, time, unload. Each row carries the thread count the load used."""
    model, _ = runtime.get_model(name, runtime=rt)
    runtime.unload(model)
    runtime.load(model, threads=None if threads == AUTO else threads)
    used = runtime.LOAD_THREADS.get(model.id, {}).get("threads")
    try:
        rows = []
        for index in range(args.warmup + args.requests):
            timing = time_inprocess_chat(model, [{"role": "user", "content": PROMPT}], max_tokens=args.max_tokens,
                                         temperature=0.0, seed=42)
            if timing.error:
                raise RuntimeError(f"{name} failed with {threads} threads: {timing.error}")
            rows.append({"warmup": index < args.warmup, "ttft_ms": timing.ttft_ms, "decode_tps": timing.decode_tps,
                         "output_tokens": timing.output_tokens, "threads_used": used})
        return rows
    finally:
        runtime.unload(model)


def genai_cell(folder: Path, threads: int, args: argparse.Namespace) -> list[dict]:
    """One cell of the bare onnxruntime-genai loop, in its own process in the converter environment."""
    command = [str(convert.converter_python()), str(GENAI_LOOP), str(folder), "--threads", str(threads),
               "--requests", str(args.requests), "--warmup", str(args.warmup), "--max-tokens", str(args.max_tokens),
               "--prompt", PROMPT]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the onnxruntime-genai loop failed on {folder.name}: {result.stderr.strip()[-500:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@contextmanager
def competing_process(active: bool) -> Iterator[None]:
    """With `active`: one CPU-bound process (a Python busy loop) for the duration; stopped by its own pid."""
    if not active:
        yield
        return
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield
    finally:
        busy.kill()
        busy.wait()


def spread_pct(values: list[float]) -> float | None:
    """(max − min) / median × 100 of the repeats' values; None for fewer than two."""
    values = [v for v in values if v is not None]
    if len(values) < 2 or not statistics.median(values):
        return None
    return (max(values) - min(values)) / statistics.median(values) * 100


def table(cells: pd.DataFrame, bandwidth: dict | None, per_token_mb: dict[str, float | None]) -> pd.DataFrame:
    """Per condition × model × engine × threads: medians over repeats, spreads, speed-up, roofline %."""
    rows = []
    for (condition, model, engine, threads), group in cells.groupby(["condition", "model", "engine", "threads"],
                                                                     sort=False):
        decode, ttft = group["decode_tps"].tolist(), group["ttft_ms"].tolist()
        ceiling = roofline.ceiling_tps(bandwidth.get("best_gbps") if bandwidth else None, per_token_mb.get(model))
        used = sorted({int(n) for n in group["threads_used"].dropna()}) if "threads_used" in group else []
        rows.append({"condition": condition, "model": model, "engine": engine, "threads": threads,
                     "used": "/".join(map(str, used)) or str(threads), "repeats": len(group),
                     "ttft_ms": statistics.median(ttft), "ttft_spread_pct": spread_pct(ttft),
                     "decode_tps": statistics.median(decode), "decode_spread_pct": spread_pct(decode),
                     "decode_roofline_pct": roofline.roofline_pct(statistics.median(decode), ceiling)})
    frame = pd.DataFrame(rows)
    one = frame[frame["threads"] == "1"].set_index(["condition", "model", "engine"])["decode_tps"]
    frame["decode_x_1_thread"] = [row.decode_tps / one.get((row.condition, row.model, row.engine), float("nan"))
                                  for row in frame.itertuples()]
    return frame.sort_values(["condition", "model", "engine", "threads"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(LADDER))
    parser.add_argument("--threads", default=",".join([*(str(n) for n in range(1, usable_cpus() + 1)), AUTO]),
                        help=f"thread counts, and {AUTO} for the kit's own choice (foundry engine only)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2, help="timed requests per cell")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up requests per cell (not counted)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--engines", default="foundry,genai")
    parser.add_argument("--load", action="store_true", help="run every cell beside one CPU-bound process")
    parser.add_argument("--json", help="write every cell's values to this file")
    args = parser.parse_args()

    models, engines = comma_list(args.models), comma_list(args.engines)
    counts = [n if n == AUTO else int(n) for n in comma_list(args.threads)]
    if "genai" in engines and not convert.converter_python().exists():
        print(f"No converter environment at {convert.converter_python()}: the bare onnxruntime-genai loop is skipped.")
        engines.remove("genai")
    rt = runtime.start(quiet=True)
    unknown = [name for name in models if name not in rt.bundled]
    if unknown:
        raise SystemExit(f"--models: {', '.join(unknown)} not among the bundled models ({', '.join(sorted(rt.bundled))}); "
                         "run `python -m helpers setup` first if that list is empty")
    folders = {name: rt.bundled[name].path for name in models}
    bandwidth = roofline.machine_bandwidth(refresh=True)  # measured again; the best reading on this machine is kept
    per_token_mb = {name: roofline.weights_read_mb(folder) for name, folder in folders.items()}
    condition = "loaded" if args.load else "idle"
    load_before = psutil.getloadavg()[0]
    cells = []
    with competing_process(args.load):
        for repeat in range(args.repeats):
            order = counts if repeat % 2 == 0 else counts[::-1]
            for name in models:
                for engine in engines:
                    for threads in order:
                        if engine != "foundry" and threads == AUTO:
                            continue
                        rows = (foundry_cell(rt, name, threads, args) if engine == "foundry"
                                else genai_cell(folders[name], threads, args))
                        timed = [r for r in rows if not r["warmup"]]
                        cells.append({"repeat": repeat, "condition": condition, "model": name, "engine": engine,
                                      "threads": str(threads), "threads_used": timed[0].get("threads_used", threads),
                                      "ttft_ms": statistics.median(r["ttft_ms"] for r in timed),
                                      "decode_tps": statistics.median(r["decode_tps"] for r in timed)})
                        print(f"repeat {repeat + 1}/{args.repeats} {condition} {name} {engine:7} {threads} threads "
                              f"(used {cells[-1]['threads_used']}): "
                              f"TTFT {cells[-1]['ttft_ms']:.0f} ms, decode {cells[-1]['decode_tps']:.1f} tok/s",
                              flush=True)
    load_after = psutil.getloadavg()[0]
    frame = table(pd.DataFrame(cells), bandwidth, per_token_mb)
    if args.json:
        Path(args.json).write_text(json.dumps({"cells": cells, "table": frame.to_dict("records"),
                                               "bandwidth": bandwidth, "weights_read_mb": per_token_mb}, indent=2))
    choice = machine_choice()
    print(f"\nThread sweep: {args.repeats} repeats (thread order reversed every other repeat), {args.warmup} warm-up + "
          f"{args.requests} timed requests per cell, max_tokens {args.max_tokens}, temperature 0. The kit's choice "
          f"here: {choice.intra_op_num_threads} threads ({choice.chosen_by}). Bandwidth: "
          f"{roofline.bandwidth_summary(bandwidth)}.")
    print(f"1-minute load average {load_before:.1f} before, {load_after:.1f} after ({usable_cpus()} CPUs; the sweep "
          f"itself adds 1-2{', the competing process 1' if args.load else ''}): above that, other work shared the "
          "cores and the figures are noisy. Spread = (max − min) / median of the repeats' cell medians.\n")
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.1f}".format):
        print(frame.to_string(index=False, na_rep="–"))


if __name__ == "__main__":
    main()
