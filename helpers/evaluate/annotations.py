"""Manual annotation, the reference score: a CSV stub per model x prompt, filled in by a person, read back.

`export_annotation_stub` -> a person fills in `score` (whole points 1-5) and `notes` -> `import_annotations`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..core.config import READ_ENCODING, PromptSet
from ..core.errors import ClearError
from .answers import SCORE_RANGE, first_measured_answers

ANNOTATION_COLUMNS = ["model", "prompt_id", "response", "score", "notes"]


class AnnotationError(ClearError, ValueError):
    """An annotation CSV has a missing column, an invalid score, or a row the kit does not know."""


def export_annotation_stub(scores_or_answers: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a CSV for a person to score: model, prompt_id, response, score (empty; 1-5), notes.

    One row per model x prompt, with the first measured round's answer. The heuristic scores are deliberately
    left out, so they cannot anchor the annotator. Refuses to overwrite an existing file (it may hold a person's
    work) unless `overwrite=True`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists and may hold annotations; pass overwrite=True to replace it")
    first = first_measured_answers(scores_or_answers)
    stub = pd.DataFrame(
        {"model": first["model"], "prompt_id": first["prompt_id"], "response": first["text"], "score": "", "notes": ""}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    stub.to_csv(path, index=False, encoding="utf-8-sig")  # the BOM lets Excel read UTF-8
    return path


def _parse_whole_score(value: str) -> int | None:
    """An integer in SCORE_RANGE ("4", "4.0"), else None."""
    match = re.fullmatch(r"\s*(\d+)(?:\.0+)?\s*", value)
    if not match:
        return None
    number = int(match.group(1))
    return number if SCORE_RANGE[0] <= number <= SCORE_RANGE[1] else None


def import_annotations(
    path: str | Path, prompt_set: PromptSet | None = None, models: Iterable[str] | None = None
) -> pd.DataFrame:
    """Read a filled annotation CSV: columns model, prompt_id, manual_score (nullable Int, 1-5), manual_notes.

    Empty scores stay missing (not yet annotated). Every problem is collected and raised as one AnnotationError
    naming the file and the row as a spreadsheet counts it (header = row 1): a score that is not a whole number
    1-5, a prompt id not in `prompt_set`, a model not in `models`, or a model x prompt annotated twice.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding=READ_ENCODING)
    missing = [c for c in ("model", "prompt_id", "score") if c not in table.columns]
    if missing:
        raise AnnotationError(f"{path}: missing column(s) {missing}; the file needs {ANNOTATION_COLUMNS}")
    if "notes" not in table.columns:
        table["notes"] = ""
    known_prompts = {p.id for p in prompt_set.prompts} if prompt_set is not None else None
    known_models = set(models) if models is not None else None
    problems: list[str] = []
    first_row: dict[tuple[str, str], int] = {}
    records: list[dict[str, object]] = []
    for index, row in table.iterrows():
        row_number = int(index) + 2
        if not "".join(row.astype(str)).strip():
            continue  # a blank line
        model, prompt_id, raw_score = row["model"].strip(), row["prompt_id"].strip(), row["score"].strip()
        if not model or not prompt_id:
            problems.append(f"row {row_number}: model and prompt_id must both be filled in")
            continue
        if known_models is not None and model not in known_models:
            problems.append(f"row {row_number}: unknown model '{model}'; expected one of {sorted(known_models)}")
        if known_prompts is not None and prompt_id not in known_prompts:
            problems.append(f"row {row_number}: unknown prompt_id '{prompt_id}'; expected one of {sorted(known_prompts)}")
        if (model, prompt_id) in first_row:
            problems.append(
                f"row {row_number}: model '{model}' / prompt_id '{prompt_id}' is already annotated in row "
                f"{first_row[model, prompt_id]}"
            )
        first_row.setdefault((model, prompt_id), row_number)
        score = _parse_whole_score(raw_score) if raw_score else None
        if raw_score and score is None:
            problems.append(
                f"row {row_number}: score '{raw_score}' is not allowed; use a whole number from "
                f"{SCORE_RANGE[0]} to {SCORE_RANGE[1]}, or leave it empty (not yet annotated)"
            )
        records.append({"model": model, "prompt_id": prompt_id, "manual_score": score, "manual_notes": row["notes"]})
    if problems:
        raise AnnotationError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    annotations = pd.DataFrame(records, columns=["model", "prompt_id", "manual_score", "manual_notes"])
    annotations["manual_score"] = annotations["manual_score"].astype("Int64")
    return annotations


