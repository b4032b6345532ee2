"""One scoring function: every scorer per answer, quality_score 1-5, cut answers never scored complete, the
`score` verb and the calibration's pairwise accuracy."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.__main__ import cli
from helpers.core.config import load_prompts
from helpers.evaluate import calibration, scoring

PROMPTS = load_prompts()
LOCAL = PROMPTS.sets["local-inference"]
RIGHT_RAG = ("RAG retrieves relevant passages from an external document store and adds them to the prompt as "
             "context. The model then answers grounded in them, which makes it more accurate.")


def test_score_answers_has_every_scorer_and_a_quality_score():
    answers = pd.DataFrame({"model": ["a", "b", "a", "b"], "prompt_id": ["rag-definition"] * 2 + ["python-square"] * 2,
                            "text": [RIGHT_RAG, RIGHT_RAG.replace("adds them", "never adds them"),
                                     "def square(x): return x ** 2", "def square(x): return 2 * x"]})
    scores = scoring.score_answers(answers, LOCAL)
    assert list(scores.columns) == scoring.SCORE_COLUMNS
    assert scores["quality_score"].between(1, 5).all()
    assert scores.loc[0, "quality_score"] > scores.loc[1, "quality_score"]  # the negation costs
    assert scores.loc[2, "code_score"] == 1 and scores.loc[3, "code_score"] < 1
    assert scores.loc[1, "facts_contradicted"] == 1


def test_a_cut_answer_is_never_scored_complete():
    answers = pd.DataFrame({"model": ["a", "a"], "prompt_id": ["rag-definition"] * 2, "text": [RIGHT_RAG] * 2,
                            "finish_reason": ["stop", "length"]})
    scores = scoring.score_answers(answers, LOCAL)
    assert scores["truncated"].tolist() == [False, True]
    assert scores.loc[1, "quality_score"] <= 3 < scores.loc[0, "quality_score"]
    assert scoring.is_truncated({"output_tokens": 64, "max_tokens": 64})


# Answers the main job's SmolLM2 135M really gave (2026-12-03), cut at the cap while repeating themselves.
LOOPS = [
    ("local-benefits", "1. **Privacy**: Data stays on the device.\n2. **Cost**: " + ".1" * 120),
    ("python-square", 'def square(n):\n    """Return n squared.\n\n' + "    Raises:\n        ValueError: If the input "
     "is a non-integer.\n\n" * 8),
    ("quantization-effect", "Quantization makes models smaller.\n3. **Data standardization**: "
     + "data standardization, " * 30),
]


@pytest.mark.parametrize("prompt_id, text", LOOPS)
def test_an_answer_cut_while_looping_is_a_failure_not_an_incomplete_one(prompt_id, text):
    scores = scoring.score_answers(pd.DataFrame({"model": ["a"], "prompt_id": [prompt_id], "text": [text],
                                                 "finish_reason": ["length"]}), LOCAL)
    assert scores.loc[0, "looped"] and not scores.loc[0, "truncated"]
    assert scores.loc[0, "quality_score"] == 1
    assert "repeated themselves until the cap" in scoring.cut_note(scores)


def test_a_long_answer_cut_mid_list_is_cut_not_looped():
    text = ("1. **Privacy**: your data never leaves the device, which matters for health records and contracts.\n"
            "2. **Latency**: no network round trip, so answers start sooner on a slow connection.\n"
            "3. **Cost**: there is no per-token bill; the hardware you already own does the work, and you can")
    scores = scoring.score_answers(pd.DataFrame({"model": ["a"], "prompt_id": ["local-benefits"], "text": [text],
                                                 "finish_reason": ["length"]}), LOCAL)
    assert scores.loc[0, "truncated"] and not scores.loc[0, "looped"]
    assert "1 of 1 answers were cut" in scoring.cut_note(scores)


# The main job's SmolLM2 135M answer to quantization-effect (2026-12-08): a 252-word numbered list cut at 320
# tokens for a prompt that allows 100 words; not a loop (seq-rep-4 under the threshold), not stopped short either.
RAMBLE = ("The quantization of a language model, in terms of its performance, refers to the process of transforming "
          "data into a more manageable and standardized format, making it easier to analyze and process. This "
          "process involves various techniques, such as:\n\n"
          + "".join(f"{i}. **Data reduction**: The process involves identifying and removing redundant data, which "
                    f"can be useful for data cleaning and analysis.\n\n" for i in range(1, 9))
          + "9. **Data standardization**: The process involves standardization of data, where data is")


def test_an_answer_cut_after_it_broke_the_length_limit_overran_and_is_scored_as_it_stands():
    scores = scoring.score_answers(pd.DataFrame({"model": ["a"], "prompt_id": ["quantization-effect"],
                                                 "text": [RAMBLE], "finish_reason": ["length"]}), LOCAL)
    row = scores.loc[0]
    assert row["overran"] and not row["truncated"] and not row["looped"]
    assert "max_words" in row["checks_failed"]
    assert "1 reached the cap after running past the prompt's own length limit" in scoring.cut_note(scores)
    assert "none of the 1 answers was cut" in scoring.cut_note(scores)


def test_score_verb_writes_scores_beside_the_input(tmp_path, capsys):
    csv = tmp_path / "answers.csv"
    pd.DataFrame({"model": ["x"], "prompt_id": ["rag-definition"], "text": [RIGHT_RAG]}).to_csv(csv, index=False)
    assert cli(["score", "--prompts", "local-inference", str(csv)]) == 0
    written = pd.read_csv(tmp_path / "answers.scores.csv")
    assert written.loc[0, "quality_score"] >= 4 and "quality_score" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("model,text\nx,hi\n", "missing column(s) ['prompt_id']"),
    ("model,prompt_id,text\n", "no answers"),
    ("model,prompt_id,text\nx,nope,hi\n", "prompt_id(s) ['nope'] are not in prompt set 'local-inference'"),
    ("model,prompt_id,text\n,rag-definition,hi\n", "row(s) [2] lack a model or prompt_id"),
])
def test_score_verb_bad_csv_is_one_clear_line(tmp_path, capsys, content, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    assert cli(["score", "--prompts", "local-inference", str(csv)]) == 1
    err = capsys.readouterr().err
    assert message in err and str(csv) in err and "Traceback" not in err


def test_pairwise_accuracy_counts_right_ties_and_wrong(tmp_path):
    pairs = [{"id": f"p{i}", "set": "local-inference", "prompt_id": "rag-definition", "kind": "negation",
              "split": "dev", "better": RIGHT_RAG, "worse": worse, "better_finish": "stop", "worse_finish": "stop"}
             for i, worse in enumerate([RIGHT_RAG.replace("retrieves", "does not retrieve"), RIGHT_RAG])]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in pairs))
    table = calibration.accuracy(calibration.pair_scores(calibration.load_pairs(path)))
    composite = table[(table.scorer == "composite") & (table.split == "dev") & (table.kind == "all")].iloc[0]
    assert (composite["right"], composite["tie"], composite["wrong"]) == (1, 1, 0)
    assert composite["accuracy"] == 0.5


def test_shipped_accuracy_names_a_measured_best_scorer():
    name, measured = calibration.best_scorer()
    assert measured is not None and name == measured["best"]["scorer"] in calibration.QUALITY_CANDIDATES


def test_an_added_unsupported_clause_costs_a_little():
    thermostat = next(p for p in PROMPTS.sets["edge-summarizer"].prompts if p.id == "thermostat-sensor-fault")
    faithful = ("The kitchen thermostat's temperature sensor failed, so the heating was switched off, and the battery "
                "is low at 14%.")
    added = faithful.replace("switched off,", "switched off and a plumber was booked,")
    assert "plumber" in scoring.checks.novel_words(added, thermostat)
    assert scoring.score_answer(faithful, thermostat)["composite"] > scoring.score_answer(added, thermostat)["composite"]


def test_the_report_names_the_scorer_its_accuracy_and_the_cut_answers():
    from helpers.present.report import quality_note

    _, measured = calibration.best_scorer()
    scores = pd.DataFrame({"truncated": [True, True] + [False] * 43, "looped": [False] * 44 + [True]})
    note = quality_note(measured["best"]["scorer"], measured, scores)
    assert f"{measured['best']['all']:.0%}" in note and "held-out test" in note and "2 of 45 answers were cut" in note
    assert "1 repeated themselves" in note
    assert "not calibrated" in quality_note("composite", None, scores.iloc[:0])
