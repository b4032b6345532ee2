"""The judge step of a run folder: grade the run's answers with a judge model once, keep the verdicts beside it.

`judge_run(run, prompt_set, judge)` grades the first measured answer of every model x prompt with
`judge_answers` (temperature 0, through `runners.open_runner`: in-process, or at the server FOUNDRY_LOCAL_ENDPOINT
names) and writes `judge_scores.csv` into the run folder, with a sha256 of each graded answer; a later call with
the same judge and the same answers reads the file instead of asking again (regenerating a report must not cost
minutes of judging). The default judge is models.json `judge.offline` / `judge.online` (`registry.default_judge`):
the strongest instruct model of that world.
"""
from __future__ import annotations

import hashlib

import pandas as pd

from ..bench.summary import BenchmarkRun
from ..core.config import PromptSet
from ..serve import registry, runners
from ..serve.errors import ModelNotFoundError
from .answers import first_measured_answers
from .judge import judge_answers

JUDGE_CSV = "judge_scores.csv"
NO_JUDGE = "none"


def _answer_sha(texts: pd.Series) -> list[str]:
    return [hashlib.sha256(str(text).encode()).hexdigest()[:16] for text in texts]


def _cached(path, judge: str, answers: pd.DataFrame) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    cached = pd.read_csv(path, dtype={"judge_verdict": str, "judge_error": str})
    key = ["model", "prompt_id", "answer_sha256"]
    same = (set(cached.get("judge_model", pd.Series(dtype=str)).dropna()) == {judge}
            and set(map(tuple, cached[key].astype(str).to_numpy())) == set(map(tuple, answers[key].astype(str).to_numpy())))
    if not same:
        return None
    cached["judge_score"] = cached["judge_score"].astype("Int64")
    return cached


def judge_run(run: BenchmarkRun, prompt_set: PromptSet, judge: str | None = None) -> tuple[pd.DataFrame | None, str]:
    """(verdicts, note): the judge's grades of the run's answers (`judge_answers` columns plus
    answer_sha256), or None with a note saying why there are none (no answers, judge `none`, judge not available).

    `judge`: a model name, `none`, or None for the default judge of this world. ModelNotFoundError when a named
    judge does not exist (the default judge missing is a note instead: the report is written without grades)."""
    name = registry.default_judge() if judge is None else judge
    if name == NO_JUDGE:
        return None, f"no judge (--judge {NO_JUDGE}): quality is the automatic metrics only"
    if not name:
        return None, "no judge (models.json names no judge for this world): quality is the automatic metrics only"
    answers = first_measured_answers(run.trials) if not run.trials.empty else pd.DataFrame()
    if answers.empty:
        return None, "no judge: the run has no successful answers"
    answers = answers.assign(answer_sha256=_answer_sha(answers["text"]))
    path = run.out_dir / JUDGE_CSV
    cached = _cached(path, name, answers)
    if cached is not None:
        return cached, f"judge {name} (verdicts read from {JUDGE_CSV})"
    try:
        runner = runners.open_runner(name)
    except ModelNotFoundError as exc:
        if judge is not None:  # named by the user (--judge): a typo must not pass as "no judge"
            raise ModelNotFoundError(f"--judge {judge}: {exc} Or --judge none for no judge.") from None
        return None, f"no judge: {exc}"
    try:
        judged = judge_answers(answers, prompt_set, runner)
    except MemoryError as exc:  # memory_fit.ModelTooLargeError: the judge will not fit next to what is loaded
        return None, f"no judge: {exc}"
    finally:
        runner.unload()
    judged["judge_model"] = name
    judged["answer_sha256"] = answers["answer_sha256"].to_numpy()
    judged.to_csv(path, index=False)
    return judged, f"judge {name}"
