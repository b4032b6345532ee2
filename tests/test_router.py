"""Router choices on a known table of candidates and measurements."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers.evaluate import router
from helpers.evaluate.router import Candidate

MODELS = [
    Candidate("tiny", frozenset({"chat"}), "apache-2.0", 90, True, "bundled"),
    Candidate("small", frozenset({"chat", "summarize"}), "apache-2.0", 260, True, "bundled"),
    Candidate("coder", frozenset({"chat", "summarize", "code"}), "mit", 3700, False, "catalog"),
    Candidate("unmeasured", frozenset({"chat", "summarize"}), "apache-2.0", 50, True, "user"),
]
SUMMARY = pd.DataFrame([
    {"model": "tiny", "status": "ok", "n": 10, "e2e_ms_p95": 900.0, "peak_rss_mb": 600.0},
    {"model": "small", "status": "ok", "n": 10, "e2e_ms_p95": 1500.0, "peak_rss_mb": 700.0},
    {"model": "coder", "status": "ok", "n": 10, "e2e_ms_p95": 4000.0, "peak_rss_mb": 5000.0},
    {"model": "unmeasured", "status": "load_failed", "n": 0, "e2e_ms_p95": None, "peak_rss_mb": None},
])


def choose(*needs: str, **constraints) -> router.Route:
    return router.route(list(needs), summary=SUMMARY, models=MODELS, **constraints)


@pytest.mark.parametrize("needs,constraints,chosen", [
    (("chat",), {}, "tiny"),  # fastest measured
    (("summarize",), {}, "small"),  # tiny lacks it; measured beats unmeasured
    (("code",), {}, "coder"),
    (("code",), {"licenses": ["apache-2.0"]}, None),
    (("summarize",), {"max_p95_ms": 1000}, None),
    (("summarize",), {"max_p95_ms": 2000, "max_memory_mb": 800}, "small"),
    (("chat",), {"max_memory_mb": 650}, "tiny"),
    (("code",), {"offline": True}, None),
])
def test_router_choices(needs, constraints, chosen):
    assert choose(*needs, **constraints).model == chosen


def test_rejections_say_why():
    decision = choose("summarize", max_p95_ms=2000, licenses=["apache-2.0"])
    assert decision.model == "small"
    assert decision.rejected["tiny"] == ["lacks summarize"]
    assert "license mit not in ['apache-2.0']" in decision.rejected["coder"]
    assert "p95 4000 ms > 2000 ms" in decision.rejected["coder"]
    assert decision.rejected["unmeasured"] == ["no latency measurement (benchmark it first)"]
    assert "measured p95 1500 ms <= 2000 ms" in decision.reasons
    assert list(decision.table["verdict"]).count("fits") == 1


def test_without_measurements_the_smallest_fit_wins():
    assert router.route("chat", summary=pd.DataFrame(), models=MODELS).model == "unmeasured"


def test_real_candidates_come_from_models_json():
    names = {c.name for c in router.candidates()}
    assert {"smollm2-135m-instruct-int4", "phi-4-mini"} <= names


def test_an_unknown_capability_is_named_with_the_known_tags():
    decision = choose("summarise")  # British spelling of a known tag
    assert decision.model is None
    assert decision.reasons == ["no candidate has the capability summarise (a typo? the tags are chat, code, "
                                "summarize)"]


@pytest.mark.parametrize(("content", "says"), [
    (None, "no such file"),
    ("garbage,,\n1,2\n", "not a benchmark summary.csv (no column model, status, n, e2e_ms_p95, peak_rss_mb)"),
])
def test_a_given_summary_that_is_missing_or_not_a_summary_is_refused(tmp_path, content, says):
    """Was: silently routed as if no benchmark had run."""
    path = tmp_path / "summary.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(router.SummaryFileError, match="^" + re.escape(f"{path}: {says}")):
        router.route(["chat"], summary=str(path), models=MODELS)


def test_the_quality_gate_excludes_a_fast_model_below_the_floor():
    """Notebook 06 chose SmolLM2 int4 for chat + summarize right after notebook 05 excluded it for quality."""
    scores = pd.DataFrame([{"model": "tiny", "mean_quality_score": 4.0}, {"model": "small", "mean_quality_score": 2.2},
                           {"model": "coder", "mean_quality_score": 3.6}])
    decision = choose("summarize", quality=scores, quality_floor=3.0)
    assert decision.model == "coder"  # small is faster, but below the floor
    assert "quality 2.20 < floor 3" in decision.rejected["small"]
    assert "no quality score (score its answers first)" in decision.rejected["unmeasured"]
    assert "quality 3.60 >= floor 3" in decision.reasons
    assert decision.table.set_index("model").loc["small", "mean_quality_score"] == 2.2
    assert choose("summarize", quality=scores, quality_floor=4.5).model is None
    assert decision.headline().startswith("-> coder: ") and "not " not in decision.headline()
