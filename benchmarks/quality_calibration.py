"""Which quality scorer to trust: every scorer's pairwise accuracy on calibration/pairs.jsonl (issue #16).

For every labelled pair (one answer better than the other), each scorer ranks it right (better scored higher),
wrong, or ties. Prints the accuracy table over all kinds (dev / test / all), then per kind, with the time each
scorer took; writes `calibration/accuracy.json`, which the report and the `score` verb read to pick the scorer
behind `quality_score` (the automatic scorer with the best accuracy over all pairs).

With `--judge NAME` the holistic judge of the report (`judge.judge_answers`: 1-5 against the facets, in-process,
temperature 0) grades every answer too (slow: its time is printed and kept); `--judge none` (default) skips it.

Run from the repository root: `python -m benchmarks.quality_calibration [--judge qwen2.5-coder-1.5b-instruct-int4]`.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from helpers.core.config import load_prompts
from helpers.evaluate import calibration


def judge_pairs(pairs: pd.DataFrame, judge: str) -> tuple[dict[tuple[str, str], float | None], float]:
    """The judge's grade of every answer of every pair, by (pair id, side), and the seconds it took."""
    from helpers.evaluate.judge import judge_answers
    from helpers.serve.runners import open_runner

    prompts = load_prompts()
    runner = open_runner(judge, "inprocess")
    grades: dict[tuple[str, str], float | None] = {}
    started = time.perf_counter()
    try:
        for set_name, group in pairs.groupby("set"):
            answers = pd.DataFrame([{"model": f"{row.id}|{side}", "prompt_id": row.prompt_id, "text": getattr(row, side)}
                                    for row in group.itertuples() for side in ("better", "worse")])
            judged = judge_answers(answers, prompts.sets[set_name], runner)
            for key, score in zip(answers["model"], judged["judge_score"]):
                pair_id, side = key.split("|")
                grades[(pair_id, side)] = None if pd.isna(score) else float(score)
    finally:
        runner.unload()
    return grades, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=str(calibration.PAIRS_FILE), help="calibration pairs (JSON Lines)")
    parser.add_argument("--judge", default="none", help="judge model name, or none (default)")
    parser.add_argument("--out", default=str(calibration.ACCURACY_FILE), help="where to write accuracy.json")
    args = parser.parse_args()

    pairs = calibration.load_pairs(args.pairs)
    timings: dict[str, float] = {}
    judge_scores = None
    if args.judge != "none":
        judge_scores, timings["judge_score"] = judge_pairs(pairs, args.judge)
    started = time.perf_counter()
    sides = calibration.pair_scores(pairs, judge_scores=judge_scores)
    timings["automatic_scorers"] = time.perf_counter() - started
    table = calibration.accuracy(sides)
    n_answers = len(sides)
    print(f"{len(pairs)} pairs ({(pairs['split'] == 'dev').sum()} dev, {(pairs['split'] == 'test').sum()} test), "
          f"{n_answers} answers. Right = the better answer scored higher; ties are not right.\n")
    print(calibration.accuracy_table(table).to_string())
    for split in ("dev", "test"):
        per_kind = table[(table["split"] == split) & (table["kind"] != "all")]
        print(f"\naccuracy by kind, {split}:")
        print(per_kind.pivot(index="kind", columns="scorer", values="accuracy").map(
            lambda v: "-" if pd.isna(v) else f"{v:.0%}").to_string())
    print("\ntime: " + ", ".join(f"{name} {seconds:.1f} s ({seconds / n_answers * 1000:.0f} ms per answer)"
                                for name, seconds in timings.items()))
    path = calibration.write_accuracy(table, args.out, timings, args.pairs)
    best = calibration.best_of(table)
    print(f"\nquality_score uses {best['scorer']}: {best['all']:.0%} of all pairs right "
          f"(dev {best['dev']:.0%}, test {best['test']:.0%}). Wrote {path}.")
    if judge_scores is not None:
        print(f"judge {args.judge}: {sum(v is None for v in judge_scores.values())} unparseable verdicts of "
              f"{len(judge_scores)}.")


if __name__ == "__main__":
    main()
