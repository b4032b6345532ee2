"""Run-versus-run noise: three repeats of one configuration, compared pairwise, must never be "better" or "worse".

Issue #17 case 9: notebook 05 repeated a benchmark to show what noise looks like, and the repeat came out `better`,
beyond noise, on TTFT (1,352 -> 1,013 ms): within-run confidence intervals ignore the drift between runs. This
script runs the same configuration three times — against the scripted loopback server (tests/fixture_server.py,
300 ms to the first token, 20 ms per token, over HTTP) and against a real small model in-process — and prints, per
pair of repeats, the verdict of `compare.compare_runs` (default floor), each run's machine load (`other_cpu_pct`),
and the between-run noise floor measured from the three (`run_noise.noise_floor`): the figure to pass to
`compare_runs(noise_floor=...)` on this machine. Other processes share the cores: that is the point.

Run from the repository root: `python -m benchmarks.run_noise [--model smollm2-135m-instruct-int4] [--rounds 3]`.
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import pandas as pd

from helpers.bench.session import run_benchmark
from helpers.evaluate import compare
from helpers.measure import run_noise
from tests.fixture_server import Script, serve

REPEATS = 3
MEDIANS = {metric: median for metric, (median, _, _) in compare.RUN_METRICS.items()}


def _repeats(work: Path, label: str, rounds: int, **settings: object) -> list[pd.DataFrame]:
    return [run_benchmark(out_dir=work / f"{label}-{number}", rounds=rounds, warmup=1, progress=False,
                          **settings).summary for number in range(REPEATS)]


def _report(label: str, summaries: list[pd.DataFrame]) -> bool:
    """Print the pairwise verdicts and the measured floor; True when no pair was called better or worse."""
    print(f"\n## {label}: {REPEATS} repeats of one configuration\n")
    loads = ", ".join(f"run {n}: other processes {s['other_cpu_pct'].iloc[0]:.0f}% CPU"
                      for n, s in enumerate(summaries))
    print(f"machine load per run: {loads}")
    rows = []
    for (i, first), (j, second) in itertools.combinations(enumerate(summaries), 2):
        for row in compare.compare_runs(first, second).itertuples():
            rows.append({"pair": f"{i} vs {j}", "metric": row.metric, "baseline": row.baseline,
                         "candidate": row.candidate, "ratio": row.ratio, "verdict": row.verdict,
                         "load_note": row.load_note})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 220, "display.max_colwidth", 90, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    floor = run_noise.noise_floor(summaries, MEDIANS)
    print("between-run noise floor measured from these repeats: "
          + ", ".join(f"{metric} {value:.1%}" for metric, value in floor.items()))
    called = table["verdict"].isin([run_noise.BETTER, run_noise.WORSE])
    print(f"pairs called better/worse: {int(called.sum())} of {len(table)} (must be 0)")
    return not called.any()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct-int4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", default="local-inference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="run-noise-") as work:
        script = Script(ttft_s=0.3, gap_s=0.02, tokens=20)
        with serve(script) as base_url:
            scripted = _repeats(Path(work), "scripted", args.rounds, models=[script.model_id], target="http",
                                endpoint=base_url, prompts=args.prompts)
        real = _repeats(Path(work), "real", args.rounds, models=[args.model], prompts=args.prompts,
                        memory_probe=False)
    held = [_report("scripted server (HTTP)", scripted), _report(f"{args.model} (in-process)", real)]
    print("\nOK: no repeat called a change" if all(held) else "\nFAILED: a repeat was called a change")


if __name__ == "__main__":
    main()
