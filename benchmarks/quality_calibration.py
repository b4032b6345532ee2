"""Which quality scorer to trust: every scorer's pairwise accuracy on calibration/pairs.jsonl (issue #16).

For every labelled pair (one answer better than the other), each scorer ranks it right (better scored higher),
wrong, or ties. Prints the accuracy table over all kinds (dev / test / all), then per kind, with the time each
scorer took; writes `calibration/accuracy.json`, which the report and the `score` verb read to pick the scorer
behind `quality_score` (the automatic scorer with the best accuracy over all pairs).

With `--judge NAME` the judge modes of `helpers.evaluate.judge_modes` (`--judge-modes holistic,checklist,pairwise`;
in-process, temperature 0) run on the `--judge-split` pairs (at most `--per-kind N` per kind: a fixed stratified
subset, the judge is slow), beside the composite on the same pairs; their accuracy, seconds per answer and
unparsed replies are kept under accuracy.json's "judges", one entry per judge, split and subset (earlier entries
stay). `--judge none` (default) skips them.

Run from the repository root: `python -m benchmarks.quality_calibration [--judge qwen2.5-coder-1.5b-instruct-int4]`.
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from helpers.core.config import load_prompts
from helpers.evaluate import calibration


def run_judges(pairs: pd.DataFrame, args: argparse.Namespace) -> dict:
    """Every judge mode on a fixed subset of pairs (`judge_modes.stratified_subset`), scored beside the automatic
    scorers on the same pairs; prints the table and returns the record kept under accuracy.json's "judges"."""
    from helpers.evaluate import judge_modes
    from helpers.serve.runners import open_runner

    modes = tuple(m.strip() for m in args.judge_modes.split(",") if m.strip())
    unknown = sorted(set(modes) - set(judge_modes.MODES))
    if unknown:
        raise SystemExit(f"--judge-modes: unknown mode(s) {unknown}; choose from {', '.join(judge_modes.MODES)}")
    chosen = judge_modes.stratified_subset(pairs, args.judge_split, args.per_kind)
    prompts = load_prompts()
    runner = open_runner(args.judge, "inprocess")
    runner.load()
    try:
        scores, seconds, unparsed = judge_modes.judge_pairs(chosen, prompts, runner, modes)
    finally:
        runner.unload()
    sides = calibration.pair_scores(chosen, prompts)
    for column, by_side in scores.items():
        sides[column] = [by_side.get((pair_id, side)) for pair_id, side in zip(sides["id"], sides["side"])]
    table = calibration.accuracy(sides, ["composite", "fact_score", *scores])
    n_answers = 2 * len(chosen)
    print(f"\njudge {args.judge}, modes {', '.join(modes)}: {len(chosen)} {args.judge_split} pairs "
          f"({'all' if args.per_kind is None else f'at most {args.per_kind} per kind'}), composite on the same pairs:")
    print(calibration.accuracy_table(table).to_string())
    per_kind = table[(table["split"] == "all") & (table["kind"] != "all")]
    print(per_kind.pivot(index="kind", columns="scorer", values="accuracy").map(
        lambda v: "-" if pd.isna(v) else f"{v:.0%}").to_string())
    per_answer = {mode: seconds[mode] / n_answers for mode in modes}
    print("seconds per answer (shared, loaded machine: noisy): "
          + ", ".join(f"{mode} {value:.1f}" for mode, value in per_answer.items())
          + "; unparsed replies: " + ", ".join(f"{mode} {unparsed[mode]}" for mode in modes))
    return {"judge": args.judge, "split": args.judge_split, "per_kind": args.per_kind, "modes": list(modes),
            "pairs": list(chosen["id"]), "seconds_per_answer": per_answer, "unparsed": unparsed,
            "checklist_without_facts": judge_modes.HOLISTIC_FALLBACK,
            "rows": json.loads(table.to_json(orient="records"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=str(calibration.PAIRS_FILE), help="calibration pairs (JSON Lines)")
    parser.add_argument("--judge", default="none", help="judge model name, or none (default)")
    parser.add_argument("--judge-modes", default="holistic", help="comma list of holistic, checklist, pairwise")
    parser.add_argument("--judge-split", default="dev", choices=("dev", "test", "all"), help="pairs the judge runs on")
    parser.add_argument("--per-kind", type=int, default=None, help="judge at most N pairs per split and kind")
    parser.add_argument("--out", default=str(calibration.ACCURACY_FILE), help="where to write accuracy.json")
    args = parser.parse_args()

    pairs = calibration.load_pairs(args.pairs)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    sides = calibration.pair_scores(pairs)
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
    run = run_judges(pairs, args) if args.judge != "none" else None
    judges = (calibration.load_accuracy(args.out) or {}).get("judges", {})  # read after the slow judge run
    if run is not None:
        judges[f"{args.judge}|{args.judge_split}|{args.per_kind or 'all'}"] = run
    path = calibration.write_accuracy(table, args.out, timings, args.pairs)
    if judges:
        payload = calibration.load_accuracy(path) | {"judges": judges}
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    best = calibration.best_of(table)
    print(f"\nquality_score uses {best['scorer']}: {best['all']:.0%} of all pairs right "
          f"(dev {best['dev']:.0%}, test {best['test']:.0%}). Wrote {path}.")


if __name__ == "__main__":
    main()
