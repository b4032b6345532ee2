"""The same model's memory measured after different predecessors: this process's sample vs the isolated probe.

Issue #17 case 8: in notebooks 04-06 (one kernel each, models run one after another) SmolLM2 int4 showed a peak of
951, 797 and 1,590 MB because the in-process RSS carries what ran before. This script runs sequences of models the
way a notebook does — each sequence in a fresh process of its own, the models one after another in it — and prints,
for the TARGET model of every sequence, `process_peak_rss_mb` (this process sampled during its run: depends on the
predecessors) next to `peak_rss_mb` (the isolated probe: a fresh process loads the model alone) and
`model_rss_mb` (the probe's peak minus its baseline). Then each model's isolated peak, ordered, to check that a
larger precision takes more memory (fp32 > int8 > int4 where those builds exist), and the spread of the target's
isolated figure across sequences (issue: within 10%).

Run from the repository root: `python -m benchmarks.memory_per_model [--target smollm2-135m-instruct-int4]`
(`--others` defaults to every other built model). Machine noise: other processes share the cores; RSS is far less
sensitive to that than timings.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from helpers.serve import registry

COLUMNS = ["model", "process_peak_rss_mb", "peak_rss_mb", "model_rss_mb", "rss_baseline_mb", "memory_method"]


def _run_sequence(models: list[str], out: Path) -> pd.DataFrame:
    """One benchmark of `models` in order, in a fresh process (like a notebook kernel); its summary rows."""
    code = ("import sys, json; from helpers.bench.session import run_benchmark; "
            "run = run_benchmark(models=sys.argv[1].split(','), rounds=1, warmup=0, max_tokens=32, "
            "out_dir=sys.argv[2], progress=False); "
            f"print(json.dumps(run.summary[{COLUMNS!r}].to_dict('records')))")
    done = subprocess.run([sys.executable, "-c", code, ",".join(models), str(out)], capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"sequence {models} failed: {done.stderr.strip().splitlines()[-1:]}")
    return pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="smollm2-135m-instruct-int4")
    parser.add_argument("--others", help="comma list (default: every other built model)")
    args = parser.parse_args()
    built = sorted(registry.find_bundled())
    others = args.others.split(",") if args.others else [m for m in built if m != args.target]
    candidates = [(args.target,), *[(other, args.target) for other in others], (*others, args.target)]
    sequences = [list(sequence) for sequence in dict.fromkeys(candidates)]  # one other model: no duplicate run
    rows, every = [], []
    with tempfile.TemporaryDirectory(prefix="memory-per-model-") as work:
        for number, models in enumerate(sequences):
            summary = _run_sequence(models, Path(work) / f"run{number}")
            every.append(summary)
            target = summary[summary["model"] == args.target].iloc[0]
            rows.append({"after": " -> ".join(models[:-1]) or "(nothing)", **target.to_dict()})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.0f}".format):
        print(f"{args.target} measured after different predecessors (MB = 10^6 bytes):\n")
        print(table[["after", *COLUMNS[1:]]].to_string(index=False))
        isolated, process = table["peak_rss_mb"], table["process_peak_rss_mb"]
        print(f"\nspread (max/min - 1): isolated {isolated.max() / isolated.min() - 1:.1%}, "
              f"this process {process.max() / process.min() - 1:.1%} (issue #17: the isolated figure within 10%)")
        per_model = pd.concat(every).groupby("model")[["peak_rss_mb", "model_rss_mb"]].median()
        print("\nEach model in isolation (median over the sequences), largest first:\n")
        print(per_model.sort_values("peak_rss_mb", ascending=False).to_string())


if __name__ == "__main__":
    main()
