"""Which scorer to trust: pairwise accuracy of every scorer on the labelled calibration set.

`calibration/pairs.jsonl` (format: the file's README / CALIBRATION_SCHEMA) holds pairs of answers to one prompt,
one better than the other, with a `kind` (negation, swapped-owner, wrong-code, …) and a `split` (dev: scorer
authors may read it; test: held out). History: c001-c168 are dev (c105-c168 were written blind, and their former
test half was read while the rules were improved); h001-h054 (test) were written afterwards by an author who
saw only the prompts, their references and three example pairs, never the scorers (one rule changed after them,
for dev pair c164: a negation negates only the first content word after it). A scorer ranks a pair RIGHT when
score(better) > score(worse), WRONG when lower, and a TIE otherwise (a tie is not right: a scorer that cannot
tell the two apart cannot gate on them).

`pair_scores` scores both answers of every pair with `scoring.score_answer` (and a judge's grades when given);
`accuracy` counts right / tie / wrong per scorer, split and kind; `write_accuracy` keeps the result in
`calibration/accuracy.json`, which `best_scorer` reads to choose the scorer behind `quality_score`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..core.config import READ_ENCODING, PromptsConfig, load_prompts
from ..core.errors import ClearError
from ..core.paths import REPO_ROOT
from . import scoring

CALIBRATION_DIR = REPO_ROOT / "calibration"
PAIRS_FILE = CALIBRATION_DIR / "pairs.jsonl"
ACCURACY_FILE = CALIBRATION_DIR / "accuracy.json"
PAIR_FIELDS = ("id", "set", "prompt_id", "kind", "split", "better", "worse")
# Scorers that can stand behind quality_score: available for every answer without a model.
QUALITY_CANDIDATES = ("composite", "fact_score", "check_score", "facet_score", "rouge_l")


class CalibrationError(ClearError, ValueError):
    """The calibration file is missing, not JSON Lines, or a pair lacks a field or names an unknown prompt."""


def load_pairs(path: str | Path = PAIRS_FILE, prompts: PromptsConfig | None = None) -> pd.DataFrame:
    """The pairs as a DataFrame (PAIR_FIELDS, better_finish, worse_finish, why); CalibrationError naming the file
    and line of a bad pair."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: no calibration file; it is written by the calibration set's author")
    prompts = prompts or load_prompts()
    rows = []
    for number, line in enumerate(path.read_text(encoding=READ_ENCODING).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path} line {number}: not JSON ({exc.msg})") from None
        missing = [f for f in PAIR_FIELDS if not pair.get(f)]
        if missing:
            raise CalibrationError(f"{path} line {number}: missing field(s) {missing}")
        prompt_set = prompts.sets.get(pair["set"])
        if prompt_set is None or pair["prompt_id"] not in {p.id for p in prompt_set.prompts}:
            raise CalibrationError(f"{path} line {number}: unknown set/prompt {pair['set']}/{pair['prompt_id']}")
        rows.append(pair)
    return pd.DataFrame(rows)


def pair_scores(pairs: pd.DataFrame, prompts: PromptsConfig | None = None,
                judge_scores: dict[tuple[str, str], float | None] | None = None) -> pd.DataFrame:
    """One row per pair and side (better / worse): id, set, prompt_id, kind, split, side and every scorer's value
    (`scoring.score_answer`), plus judge_score from `judge_scores[(pair id, side)]` when given."""
    prompts = prompts or load_prompts()
    rows = []
    for pair in pairs.to_dict("records"):
        prompt = next(p for p in prompts.sets[pair["set"]].prompts if p.id == pair["prompt_id"])
        for side in ("better", "worse"):
            truncated = scoring.is_truncated({"finish": pair.get(f"{side}_finish")})
            scored = scoring.score_answer(pair[side], prompt, truncated)
            row = {key: pair[key] for key in ("id", "set", "prompt_id", "kind", "split")} | {"side": side}
            row |= {name: scored[name] for name in scoring.SCORER_COLUMNS}
            if judge_scores is not None:
                row["judge_score"] = judge_scores.get((pair["id"], side))
            rows.append(row)
    return pd.DataFrame(rows)


def _outcomes(sides: pd.DataFrame, scorer: str) -> pd.DataFrame:
    wide = sides.pivot(index=["id", "kind", "split"], columns="side", values=scorer).reset_index()
    better = pd.to_numeric(wide["better"], errors="coerce")
    worse = pd.to_numeric(wide["worse"], errors="coerce")
    # A scorer with no value for an answer cannot rank the pair: a tie.
    wide["outcome"] = ["tie" if pd.isna(b) or pd.isna(w) or b == w else "right" if b > w else "wrong"
                       for b, w in zip(better, worse)]
    return wide[["id", "kind", "split", "outcome"]]


def accuracy(sides: pd.DataFrame, scorers: Iterable[str] | None = None) -> pd.DataFrame:
    """Per scorer, split (dev, test, all) and kind (each, and `all`): n, right, tie, wrong and accuracy =
    right / n (ties count as not right)."""
    scorers = list(scorers or [c for c in [*scoring.SCORER_COLUMNS, "judge_score"] if c in sides.columns])
    rows = []
    for scorer in scorers:
        outcomes = _outcomes(sides, scorer)
        for split in ("dev", "test", "all"):
            chosen = outcomes if split == "all" else outcomes[outcomes["split"] == split]
            for kind, group in [("all", chosen), *sorted(chosen.groupby("kind"))]:
                counts = group["outcome"].value_counts()
                n = len(group)
                rows.append({"scorer": scorer, "split": split, "kind": kind, "n": n,
                             "right": int(counts.get("right", 0)), "tie": int(counts.get("tie", 0)),
                             "wrong": int(counts.get("wrong", 0)),
                             "accuracy": counts.get("right", 0) / n if n else None})
    return pd.DataFrame(rows)


def accuracy_table(table: pd.DataFrame, kind: str = "all") -> pd.DataFrame:
    """Scorers x splits: `right/n (accuracy%)` text, one row per scorer, for printing."""
    chosen = table[table["kind"] == kind]
    cells = chosen.assign(cell=[f"{r}/{n} ({a:.0%}), {t} ties" if n else "-"
                                for r, n, a, t in zip(chosen["right"], chosen["n"], chosen["accuracy"].fillna(0),
                                                      chosen["tie"])])
    return cells.pivot(index="scorer", columns="split", values="cell").reindex(columns=["dev", "test", "all"])


def write_accuracy(table: pd.DataFrame, path: str | Path = ACCURACY_FILE, timings: dict | None = None,
                   pairs_file: str | Path = PAIRS_FILE) -> Path:
    """Keep the accuracy table as JSON: {"pairs_file", "best", "timings_s", "rows": [...]}."""
    path = Path(path)
    payload = {"pairs_file": str(Path(pairs_file).name), "best": best_of(table), "timings_s": timings or {},
               "rows": json.loads(table.to_json(orient="records"))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def best_of(table: pd.DataFrame) -> dict[str, object]:
    """The QUALITY_CANDIDATES scorer with the highest accuracy over all pairs (dev accuracy breaks a tie), with its
    dev, test and overall accuracy."""
    overall = table[table["kind"] == "all"].pivot(index="scorer", columns="split", values="accuracy")
    candidates = overall.loc[[s for s in QUALITY_CANDIDATES if s in overall.index]]
    name = max(candidates.index, key=lambda s: (candidates.at[s, "all"], candidates.at[s, "dev"]))
    return {"scorer": name, **{split: float(candidates.at[name, split]) for split in ("dev", "test", "all")}}


def load_accuracy(path: str | Path = ACCURACY_FILE) -> dict | None:
    """accuracy.json as written by `write_accuracy`, or None when there is none."""
    path = Path(path)
    return json.loads(path.read_text(encoding=READ_ENCODING)) if path.is_file() else None


def best_scorer(path: str | Path = ACCURACY_FILE) -> tuple[str, dict | None]:
    """(scorer behind quality_score, its accuracy record or None): the measured best, else the composite."""
    measured = load_accuracy(path)
    if measured is None:
        return scoring.DEFAULT_QUALITY_SCORER, None
    return measured["best"]["scorer"], measured
