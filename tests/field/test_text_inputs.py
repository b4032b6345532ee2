"""Cases 9 and 10 of issue #10 on their own: reasoning text in quality scoring, byte-order marks in config files."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.core import config
from helpers.core.config import load_models, load_prompts, resolve_prompt_set
from helpers.evaluate.annotations import import_annotations
from helpers.evaluate.facets import facet_coverage, score_answers
from helpers.evaluate.judge import parse_verdict
from helpers.measure.reasoning import split_pieces, visible_answer

from .cases import THINK_ANSWER

SLM = "slm-definition"


def _prompt_set():
    return resolve_prompt_set("local-inference")[1]


def test_think_text_scores_nothing() -> None:
    prompt = next(p for p in _prompt_set().prompts if p.id == SLM)
    assert facet_coverage(THINK_ANSWER, prompt.facets).score == 1.0
    answers = pd.DataFrame({"model": ["m"], "prompt_id": [SLM], "text": [THINK_ANSWER]})
    assert score_answers(answers, _prompt_set())["facet_score"].tolist() == [1.0]


def test_judge_final_verdict_counts() -> None:
    reply = ("The answer names laptops, so SCORE: 5 would fit a full answer; it misses the parameters, so "
             "perhaps SCORE: 3. Weighing both:\nSCORE: 4\nREASON: mostly right.")
    assert parse_verdict(reply) == 4
    assert parse_verdict("<think>SCORE: 2? no.</think>SCORE: 4") == 4
    assert parse_verdict("<think>SCORE: 2, cut by max_tokens") is None


@pytest.mark.parametrize(("pieces", "expected"), [
    (["<think>a", "b</think>", "c"], [("", "<think>a"), ("", "b</think>"), ("c", "")]),
    (["a</thi", "nk>b"], [("", "a</thi"), ("b", "nk>")]),  # opened by the chat template, tag split
    (["plain"], [("plain", "")]),
    (["<think>never closed"], [("", "<think>never closed")]),
])
def test_split_pieces(pieces: list[str], expected: list[tuple[str, str]]) -> None:
    assert split_pieces(pieces) == expected


def test_visible_answer() -> None:
    assert visible_answer(THINK_ANSWER) == "A big model in the cloud."


def _with_bom(source: Path, target: Path) -> Path:
    target.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    return target


def test_bom_in_models_and_prompts_json(tmp_path: Path) -> None:
    models = load_models(_with_bom(config.MODELS_FILE, tmp_path / "models.json"))
    assert models.models == load_models().models
    prompts = load_prompts(_with_bom(config.PROMPTS_FILE, tmp_path / "prompts.json"))
    assert prompts.sets == load_prompts().sets
    name, prompt_set = resolve_prompt_set(None, tmp_path / "prompts.json")
    assert prompt_set == load_prompts().sets[name]


def test_bom_in_a_prompts_file(tmp_path: Path) -> None:
    one_set = {"description": "one", "prompts": [{"id": "p1", "text": "Hi"}]}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(one_set), encoding="utf-8-sig")
    assert resolve_prompt_set(str(path))[1].prompts[0].text == "Hi"


def test_bom_in_an_annotation_csv(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    path.write_text("model,prompt_id,score,notes\nm,p1,4,\n", encoding="utf-8-sig")
    assert import_annotations(path)["manual_score"].tolist() == [4]


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prompts.json"
    path.write_bytes('{"version": 1, "x": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(config.ConfigError, match="prompts.json: not UTF-8"):
        load_prompts(path)


def test_inprocess_reasoning_items_are_told_apart() -> None:
    """In-process, the SDK marks reasoning text as TextItemType.REASONING: first token vs TTFT, both texts."""
    from foundry_local_sdk import TextItem, TextItemType

    from helpers.measure.recorder import TrialRecorder
    from helpers.measure.timing import record_sdk_text

    recorder = TrialRecorder(streamed=True)
    recorder.begin()
    for item in [TextItem("hmm", TextItemType.REASONING), TextItem(" so"), TextItem(" yes")]:
        record_sdk_text(item, recorder)
    recorder.complete()
    recorder.finish_reason, recorder.ended = "stop", True
    trial = recorder.result()
    assert (trial.text, trial.reasoning, trial.output_tokens, trial.reasoning_tokens) == (" so yes", "hmm", 3, 1)
    assert trial.ttft_any_s < trial.ttft_s


def test_bom_in_a_summary_csv(tmp_path: Path) -> None:
    from helpers.evaluate.router import latest_summary

    path = tmp_path / "summary.csv"
    path.write_text("model,status,n,e2e_ms_p95,peak_rss_mb\nm,ok,3,12.5,500\n", encoding="utf-8-sig")
    assert latest_summary(path).columns[0] == "model"


def test_bom_in_model_folder_json(tmp_path: Path) -> None:
    """A model folder edited on Windows: genai_config.json and kit_model.json with a BOM are still read."""
    from helpers.build.convert import MANIFEST_NAME, read_manifest
    from helpers.measure.memory_fit import estimate_folder

    genai = {"model": {"decoder": {"num_hidden_layers": 2, "num_key_value_heads": 1, "head_size": 8}},
             "search": {"max_length": 1000}}
    (tmp_path / "genai_config.json").write_text(json.dumps(genai), encoding="utf-8-sig")
    (tmp_path / "model.onnx").write_bytes(b"\0" * 2_000_000)
    estimate = estimate_folder(tmp_path)
    assert (estimate.weights_mb, estimate.kv_cache_mb, estimate.context_length) == (2.0, 0.128, 1000)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"name": "m"}), encoding="utf-8-sig")
    assert read_manifest(tmp_path) == {"name": "m"}
