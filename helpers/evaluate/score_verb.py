"""`foundry-lab score --prompts SET ANSWERS.csv`: grade answers that came from anywhere with every scorer.

The CSV needs the columns model, prompt_id, text (optional: finish or finish_reason, truncated, round). The scores
(`scoring.score_answers`, the function the report uses, with the calibrated `quality_score`) are printed and
written beside the input as `<name>.scores.csv`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.config import READ_ENCODING, resolve_prompt_set
from ..core.errors import ClearError
from . import calibration, scoring

REQUIRED = ("model", "prompt_id", "text")
SHOWN = ["model", "prompt_id", "truncated", "looped", "overran", "facet_score", "rouge_l", "check_score", "code_score", "fact_score",
         "quality_score"]


class AnswersFileError(ClearError, ValueError):
    """The answers CSV is missing, unreadable, lacks a column or names a prompt the set does not have."""


def read_answers(path: str | Path) -> pd.DataFrame:
    """The answers CSV (UTF-8, with or without BOM) as text columns; AnswersFileError naming the file and what
    to fix."""
    path = Path(path)
    if not path.is_file():
        raise AnswersFileError(f"{path}: no such file. Give a CSV with the columns {', '.join(REQUIRED)}.")
    try:
        answers = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=READ_ENCODING)
    except UnicodeDecodeError as exc:
        raise AnswersFileError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnswersFileError(f"{path}: not a readable CSV ({str(exc).strip()}).") from None
    missing = [c for c in REQUIRED if c not in answers.columns]
    if missing:
        raise AnswersFileError(f"{path}: missing column(s) {missing}; it has {list(answers.columns)}. "
                               f"The file needs {', '.join(REQUIRED)} (one answer per row).")
    if answers.empty:
        raise AnswersFileError(f"{path}: no answers (the file has only a header).")
    blank = answers.index[(answers["model"].str.strip() == "") | (answers["prompt_id"].str.strip() == "")]
    if len(blank):
        raise AnswersFileError(f"{path}: row(s) {[int(i) + 2 for i in blank[:5]]} lack a model or prompt_id "
                               "(rows counted as a spreadsheet does, header = 1).")
    return answers


def scores_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.scores.csv")


def main(prompts: str | None, answers_csv: str | Path) -> int:
    """Score the CSV, print the table and where the scores were written; 0 on success (errors are ClearError)."""
    set_name, prompt_set = resolve_prompt_set(prompts)
    answers = read_answers(answers_csv)
    known = {p.id for p in prompt_set.prompts}
    unknown = sorted(set(answers["prompt_id"].str.strip()) - known)
    if unknown:
        raise AnswersFileError(f"{answers_csv}: prompt_id(s) {unknown} are not in prompt set '{set_name}' "
                               f"(it has {sorted(known)}); pass --prompts with the set the answers belong to.")
    answers["prompt_id"] = answers["prompt_id"].str.strip()
    method, measured = calibration.best_scorer()
    scores = scoring.score_answers(answers, prompt_set, method=method)
    out = scores_path(answers_csv)
    scores.to_csv(out, index=False, float_format="%.4g")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
        print(scores[SHOWN].round(2).astype(object).where(scores[SHOWN].notna(), "-").to_string(index=False))
    accuracy = (f"{measured['best']['all']:.0%} of {measured['pairs_file']} pairs ranked right"
                if measured else "not calibrated yet: run benchmarks/quality_calibration.py")
    print(f"\nquality_score: {method} (calibration: {accuracy}); {scoring.cut_note(scores)}.\nwrote {out}")
    return 0
