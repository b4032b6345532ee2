"""TTFT and decode rate of every bundled model in-process vs over the built-in web service.

Runs the benchmark engine on both targets with the same prompts, rounds and max_tokens, alternating the targets
in blocks (in-process, HTTP, HTTP, in-process, ...: ABBA order, so a slow drift of the machine hits both alike),
pools each target's measured trials and prints the medians side by side with the HTTP cost (HTTP minus
in-process). Both targets use the same runtime in this process: the difference is the HTTP server, JSON and
server-sent events, plus any difference in how each path sizes its KV cache (in-process: the model's whole
context length; the web service: prompt + max_tokens).

Run from the repository root:
`python -m benchmarks.inprocess_vs_http [--prompts SET] [--rounds 2] [--blocks 2] [--max-tokens 64]`.
Each block's run folder is kept under reports/inprocess_vs_http/.
"""
from __future__ import annotations

import argparse

import pandas as pd

from helpers.bench.session import run_benchmark
from helpers.core.paths import REPO_ROOT
from helpers.measure.stats import summarize
from helpers.serve import runtime

TARGETS = ("inprocess", "http")
METRICS = ["ttft_ms", "decode_tps", "tpot_ms", "e2e_ms", "output_tokens"]
SHOWN = ["ttft_ms_n", "ttft_ms_p50", "ttft_ms_median_ci95_low", "ttft_ms_median_ci95_high", "decode_tps_p50",
         "decode_tps_median_ci95_low", "decode_tps_median_ci95_high", "tpot_ms_p50", "e2e_ms_p50", "output_tokens_mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", default="local-inference")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per block")
    parser.add_argument("--blocks", type=int, default=2, help="blocks per target, in ABBA order")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    models = sorted(runtime.start(quiet=True).bundled)
    out = REPO_ROOT / "reports" / "inprocess_vs_http"
    order = [TARGETS[(block + block // 2) % 2] for block in range(args.blocks * 2)]  # A B B A A B ...
    trials = []
    for block, target in enumerate(order):
        run = run_benchmark(models=models, target=target, prompts=args.prompts, rounds=args.rounds,
                            max_tokens=args.max_tokens, out_dir=out / f"block{block}-{target}")
        trials.append(run.trials[~run.trials["warmup"] & run.trials["ok"]])
    stats = summarize(pd.concat(trials), ["model", "target"], METRICS).set_index(["model", "target"])[SHOWN]
    print(f"\n{args.prompts}: {args.blocks} blocks x {args.rounds} rounds per target ({' '.join(order)}), "
          f"max_tokens {args.max_tokens}, temperature 0, seed 42")
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.float_format", "{:.1f}".format):
        print(stats.T.to_string())
        for model in models:
            http, local = stats.loc[(model, "http")], stats.loc[(model, "inprocess")]
            print(f"{model}: HTTP - in-process: TTFT {http['ttft_ms_p50'] - local['ttft_ms_p50']:+.1f} ms, "
                  f"decode {http['decode_tps_p50'] - local['decode_tps_p50']:+.1f} tok/s, "
                  f"e2e {http['e2e_ms_p50'] - local['e2e_ms_p50']:+.1f} ms")


if __name__ == "__main__":
    main()
