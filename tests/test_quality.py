"""helpers.evaluate facets, annotations, judge: facet heuristic, annotation round trip, judge verdict parsing, judge on the real SmolLM2."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from helpers.core.config import Facet, Prompt, PromptSet, resolve_prompt_set
from helpers.evaluate.annotations import AnnotationError, export_annotation_stub, import_annotations
from helpers.evaluate.facets import FACET_METHOD, facet_coverage, quality_summary, score_answers
from helpers.evaluate.judge import judge_agreement, judge_answers, parse_verdict
from helpers.serve import endpoints
from helpers.serve.runners import InprocessRunner, OpenAIServerRunner

from .fixture_server import Script, serve

DATE_FACETS = [
    Facet(name="launch March 14", accept=["march 14", "3/14"]),
    Facet(name="owner Marcus", accept=["marcus"]),
    Facet(name="go/no-go meeting", accept=["go/no-go"]),
    Facet(name="greeting", accept=["hi "]),
]
PROMPTS = PromptSet(
    description="test set",
    prompts=[
        Prompt(id="plan", text="Summarize.", facets=DATE_FACETS),
        Prompt(id="free", text="Write a haiku."),
    ],
)


def _answers(rows: list[tuple]) -> pd.DataFrame:
    """Trial-record-like rows: (model, prompt_id, round, text, warmup, ok)."""
    return pd.DataFrame(rows, columns=["model", "prompt_id", "round", "text", "warmup", "ok"])


# --- facet heuristic --------------------------------------------------------------------------------------------


def test_full_partial_and_no_coverage() -> None:
    full = facet_coverage("**Marcus** launches on 3 / 14 after the GO / NO\u2011GO call. Say hi", DATE_FACETS)
    assert full.matched == [f.name for f in DATE_FACETS] and full.missed == []
    assert (full.coverage, full.score) == (1.0, 5.0)

    partial = facet_coverage("Launch:\nMarch\u00a014. Nothing else.", DATE_FACETS)
    assert partial.matched == ["launch March 14"]
    assert partial.missed == ["owner Marcus", "go/no-go meeting", "greeting"]
    assert (partial.coverage, partial.score) == (0.25, 2.0)

    none = facet_coverage("This answer names none of them.", DATE_FACETS)  # "this" must not match "hi "
    assert (none.coverage, none.score, none.matched) == (0.0, 1.0, [])


def test_prompt_without_facets_scores_none_not_zero() -> None:
    result = facet_coverage("An old pond.", [])
    assert result.coverage is None and result.score is None


def test_score_answers_drops_warmup_and_failed_rows_and_labels_the_heuristic() -> None:
    answers = _answers(
        [
            ("m1", "plan", 0, "Marcus, March 14", True, True),  # warm-up
            ("m1", "plan", 1, "Marcus, March 14", False, True),
            ("m1", "plan", 2, "partial text before a crash", False, False),  # failed
            ("m1", "free", 1, "An old pond.", False, True),
        ]
    )
    scores = score_answers(answers, PROMPTS)
    assert scores[["prompt_id", "round"]].values.tolist() == [["plan", 1], ["free", 1]]
    assert scores["facet_score"].iloc[0] == 3.0 and scores["facet_coverage"].iloc[0] == 0.5
    assert scores["facets_missed"].iloc[0] == ["go/no-go meeting", "greeting"]
    assert pd.isna(scores["facet_score"].iloc[1]) and scores["n_facets"].iloc[1] == 0
    assert set(scores["facet_method"]) == {FACET_METHOD} == {"substring heuristic"}


def test_score_answers_rejects_unknown_prompts_and_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"\['other'\]"):
        score_answers(pd.DataFrame({"model": ["m"], "prompt_id": ["other"], "text": ["x"]}), PROMPTS)
    with pytest.raises(ValueError, match=r"missing \['text'\]"):
        score_answers(pd.DataFrame({"model": ["m"], "prompt_id": ["plan"]}), PROMPTS)


def test_meeting_notes_reference_answers_score_full_marks() -> None:
    _, prompt_set = resolve_prompt_set("meeting-notes")
    references = pd.DataFrame(
        {"model": "reference", "prompt_id": [p.id for p in prompt_set.prompts], "text": [p.reference for p in prompt_set.prompts]}
    )
    scores = score_answers(references, prompt_set)
    missed = {row.prompt_id: row.facets_missed for row in scores.itertuples() if row.facets_missed}
    assert not missed
    assert scores["facet_score"].tolist() == [5.0] * len(prompt_set.prompts)


def test_quality_summary_weights_each_prompt_equally() -> None:
    scores = pd.DataFrame(
        {
            "model": ["a", "a", "a", "a", "b"],
            "prompt_id": ["p1", "p1", "p2", "free", "p1"],
            "facet_score": pd.array([5.0, 3.0, 1.0, None, 2.0], dtype="Float64"),
            "facet_coverage": pd.array([1.0, 0.5, 0.0, None, 0.25], dtype="Float64"),
        }
    )
    summary = quality_summary(scores).set_index("model")
    assert summary.loc["a", "mean_facet_score"] == 2.5  # (mean(5, 3) + 1) / 2
    assert summary.loc["a", "facet_coverage"] == 0.375
    assert (summary.loc["a", "n"], summary.loc["a", "n_prompts"]) == (3, 2)
    assert (summary.loc["b", "mean_facet_score"], summary.loc["b", "n"]) == (2.0, 1)
    assert set(summary["facet_method"]) == {FACET_METHOD}


# --- manual annotation ------------------------------------------------------------------------------------------

ROUNDS = _answers(
    [
        ("m1", "plan", 0, "warm-up answer", True, True),
        ("m1", "plan", 2, "second round", False, True),
        ("m1", "plan", 1, "first round:\nMarcus, March 14", False, True),
        ("m1", "free", 1, "An old pond.", False, True),
        ("m2", "plan", 1, "m2 answer", False, True),
    ]
)


def _fill(path: Path, scores: list[str]) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table["score"] = scores
    table.to_csv(path, index=False)


def test_annotation_stub_round_trip(tmp_path: Path) -> None:
    path = export_annotation_stub(score_answers(ROUNDS, PROMPTS), tmp_path / "notes" / "annotations.csv")
    stub = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert stub.columns.tolist() == ["model", "prompt_id", "response", "score", "notes"]
    assert stub[["model", "prompt_id"]].values.tolist() == [["m1", "plan"], ["m1", "free"], ["m2", "plan"]]
    assert stub["response"].iloc[0] == "first round:\nMarcus, March 14"
    assert set(stub["score"]) == {""}

    _fill(path, ["4", "", " 2 "])
    annotations = import_annotations(path, PROMPTS, models=["m1", "m2"])
    assert str(annotations["manual_score"].dtype) == "Int64"
    assert annotations["manual_score"].tolist()[0] == 4 and pd.isna(annotations["manual_score"].iloc[1])
    assert annotations["manual_score"].iloc[2] == 2


def test_annotation_stub_never_overwrites_silently(tmp_path: Path) -> None:
    path = export_annotation_stub(ROUNDS, tmp_path / "annotations.csv")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_annotation_stub(ROUNDS, path)
    export_annotation_stub(ROUNDS, path, overwrite=True)


def test_bad_annotations_name_file_row_and_value(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m1", "ghost", "m1"],
            "prompt_id": ["plan", "free", "plan", "nope", "plan", "plan"],
            "response": ["multi\nline\nanswer", "b", "c", "d", "e", "f"],
            "score": ["7", "abc", "3.5", "", "5", "4.0"],
            "notes": "",
        }
    ).to_csv(path, index=False)
    with pytest.raises(AnnotationError) as caught:
        import_annotations(path, PROMPTS, models=["m1", "m2"])
    message = str(caught.value)
    assert str(path) in message and "6 problem(s)" in message
    assert "row 2: score '7' is not allowed; use a whole number from 1 to 5, or leave it empty" in message
    assert "row 3: score 'abc'" in message and "row 4: score '3.5'" in message
    assert "row 5: unknown prompt_id 'nope'" in message
    assert "row 6: unknown model 'ghost'" in message
    assert "row 7: model 'm1' / prompt_id 'plan' is already annotated in row 2" in message


def test_annotations_without_a_score_column_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    pd.DataFrame({"model": ["m1"], "prompt_id": ["plan"]}).to_csv(path, index=False)
    with pytest.raises(AnnotationError, match=r"missing column\(s\) \['score'\]"):
        import_annotations(path)


# --- judge ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        ("SCORE: 4\nREASON: covers most points.", 4),
        ("score:5", 5),
        ("**Score:** 3\nThe answer is vague.", 3),
        ("  Sure! SCORE = 2 because it misses the dates.", 2),
        ("SCORE: 4/5", 4),
        ("Score: 1 out of 5", 1),
        ("SCORE: 4.0", 4),
        ("SCORE: 3\nREASON: half the points, so SCORE: 3.", 3),
        ("SCORE: 4\nActually, SCORE: 2", 2),  # the final verdict counts
    ],
)
def test_parse_verdict_accepts_clear_scores(verdict: str, expected: int) -> None:
    assert parse_verdict(verdict) == expected


@pytest.mark.parametrize(
    "verdict",
    [
        "",
        "4",  # a bare number is not the requested format
        "The answer is good.",
        "SCORE: <1-5>\nREASON: <one short sentence>",  # the template echoed back
        "SCORE: 0",
        "SCORE: 6",
        "SCORE: 10",
        "SCORE: 4.5",
        "SCORE: 7/10",
        "SCORE: 4\nOn second thought, SCORE: 6",  # the final verdict is out of range
    ],
)
def test_parse_verdict_rejects_unclear_scores(verdict: str) -> None:
    assert parse_verdict(verdict) is None


def test_smollm2_as_judge_scores_or_records_missing(smol: object) -> None:
    _, prompt_set = resolve_prompt_set("local-inference")
    reference = {p.id: p.reference for p in prompt_set.prompts}
    answers = pd.DataFrame(
        {
            "model": ["model-a", "smollm2-135m-instruct-int4"],
            "prompt_id": ["slm-definition", "rag-definition"],
            "text": [reference["slm-definition"], "RAG is a type of cloth."],
        }
    )
    judged = judge_answers(answers, prompt_set, InprocessRunner(smol), max_tokens=32)
    assert str(judged["judge_score"].dtype) == "Int64"
    assert judged["judge_model"].tolist() == ["smollm2-135m-instruct-int4"] * 2
    assert judged["self_judged"].tolist() == [False, True]
    for row in judged.itertuples():
        assert row.judge_error is None and row.judge_verdict.strip()
        parsed = parse_verdict(row.judge_verdict)
        if pd.isna(row.judge_score):
            assert parsed is None  # missing, never defaulted
        else:
            assert row.judge_score == parsed and 1 <= row.judge_score <= 5


def test_judge_agreement_on_a_known_table() -> None:
    judge = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b", "c", "c"],
            "prompt_id": ["p1", "p2", "p1", "p2", "p1", "p2"],
            "judge_score": pd.array([5, 4, 2, 1, None, 3], dtype="Int64"),
        }
    )
    manual = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b", "c", "c"],
            "prompt_id": ["p1", "p2", "p1", "p2", "p1", "p2"],
            "manual_score": pd.array([4, 4, 3, 1, 5, None], dtype="Int64"),
        }
    )
    agreement = judge_agreement(judge, manual)
    assert (agreement["n"], agreement["n_judge_missing"]) == (4, 1)
    assert (agreement["exact"], agreement["within_1"], agreement["mean_abs_diff"]) == (0.5, 1.0, 0.5)
    # ranks: judge (4, 3, 2, 1), manual (3.5, 3.5, 2, 1) -> Pearson of the ranks = 4.5 / sqrt(5 * 4.5)
    assert agreement["spearman"] == pytest.approx(math.sqrt(0.9))


def test_judge_agreement_without_pairs_reports_nothing() -> None:
    judge = pd.DataFrame({"model": ["a"], "prompt_id": ["p1"], "judge_score": pd.array([None], dtype="Int64")})
    manual = pd.DataFrame({"model": ["a"], "prompt_id": ["p1"], "manual_score": pd.array([3], dtype="Int64")})
    assert judge_agreement(judge, manual) == {
        "n": 0, "n_judge_missing": 1, "exact": None, "within_1": None, "mean_abs_diff": None, "spearman": None
    }


def test_the_judge_works_over_http() -> None:
    """The judge takes a runner: here an OpenAI-compatible server (scripted to answer in the verdict format)."""
    _, prompt_set = resolve_prompt_set("local-inference")
    answers = pd.DataFrame({"model": ["model-a", "fixture-model"], "prompt_id": ["slm-definition", "rag-definition"],
                            "text": ["A small language model.", "RAG retrieves documents."]})
    script = Script(tokens=2, ttft_s=0.0, gap_s=0.0, content_tokens=["SCORE: 4\n", "REASON: covers it"])
    with serve(script) as url:
        judged = judge_answers(answers, prompt_set, OpenAIServerRunner("fixture-model", url, endpoints.openai_client(url)))
    assert judged["judge_score"].tolist() == [4, 4]
    assert judged["judge_error"].isna().all() and judged["judge_model"].tolist() == ["fixture-model"] * 2
    assert judged["self_judged"].tolist() == [False, True]
    assert all(r.body["temperature"] == 0.0 for r in script.received if r.body and "messages" in r.body)
