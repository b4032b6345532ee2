"""Record the runs that the report tests read (tests/data/runs/): one real benchmark of two bundled models, twice.

The report, chart and comparison tests render these recorded results instead of benchmarking live on every test
run. Both runs use the same deterministic settings (temperature 0), so the second is a "candidate" to compare with
the first as "baseline"; the candidate also keeps the judge's verdicts (`judge_scores.csv`, judge SmolLM2 int4),
which the report reads back instead of loading the judge. The prompt set is pinned in `smoke.json` (a copy of
prompts.json's `smoke` set as recorded), so an edit of prompts.json does not invalidate the recording.

Re-record after a change to what a results log holds: `python -m tests.data.record` from the repository root,
after `python -m helpers setup` (about a minute on 2 cores).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

RUNS = Path(__file__).resolve().parent / "runs"
PROMPTS = RUNS / "smoke.json"
MODELS = ["smollm2-135m-instruct-int4", "smollm2-135m-instruct-int8"]
JUDGE = MODELS[0]
SETTINGS = {"models": MODELS, "rounds": 2, "max_tokens": 16, "progress": False}
NAMES = ("baseline", "candidate")


def _name_prompts(run: Path, prompts: str) -> None:
    """Make the run's header name `prompts` as the prompt set it asked (the same set: its fingerprint is kept)."""
    results = run / "results.jsonl"
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record["type"] == "header":
            record["config"]["prompts"] = prompts
    results.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def relocate(recorded: Path, target: Path) -> Path:
    """A copy of a recorded run folder at `target` whose header names the pinned prompt set by its path here."""
    shutil.copytree(recorded, target)
    _name_prompts(target, str(PROMPTS))
    return target


def main() -> None:
    from helpers.bench.session import run_benchmark
    from helpers.bench.summary import load_run
    from helpers.core.config import resolve_prompt_set
    from helpers.evaluate import judging
    from helpers.present import report

    RUNS.mkdir(exist_ok=True)
    PROMPTS.write_text(json.dumps(resolve_prompt_set("smoke")[1].model_dump(exclude_none=True), indent=1) + "\n",
                       encoding="utf-8")
    for name in NAMES:
        shutil.rmtree(RUNS / name, ignore_errors=True)
        run_benchmark(out_dir=RUNS / name, prompts=str(PROMPTS), **SETTINGS)
        for file in (RUNS / name).iterdir():
            if file.name != "results.jsonl":
                file.unlink() if file.is_file() else shutil.rmtree(file)
    candidate = load_run(RUNS / "candidate")
    judging.judge_run(candidate, report.run_prompt_set(candidate), JUDGE)  # writes judge_scores.csv
    for name in NAMES:  # no path of this machine in the recording; tests relocate() it
        _name_prompts(RUNS / name, PROMPTS.relative_to(RUNS.parent.parent.parent).as_posix())
    print(f"recorded {', '.join(NAMES)} in {RUNS}")


if __name__ == "__main__":
    main()
