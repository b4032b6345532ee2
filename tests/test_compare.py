"""Model selection on known tables: normalization, weights, ranking, Pareto front, recommendation; two-run
comparison with a CI noise test; answer diffs; the cost and energy estimate."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.core.config import SelectionGates, load_models, size_class
from helpers.evaluate import compare
from helpers.measure import energy
from helpers.measure.stats import summarize

# Three models with known values: "fast" is fastest and smallest, "good" has the best quality, "slow" is
# dominated by "good" (worse quality and slower) but has the permissive license only it and "fast" share.
KNOWN = pd.DataFrame({
    "model": ["fast", "good", "slow"],
    "status": ["ok"] * 3,
    "params_b": [0.135, 3.8, 7.0],
    "size_class": ["tiny", "mid", "large"],
    "license": ["apache-2.0", "gemma", "mit"],
    "license_score": [1.0, 0.5, 1.0],
    "e2e_ms_p50": [100.0, 300.0, 500.0],
    "e2e_ms_p95": [150.0, 400.0, 900.0],
    "ttft_ms_p50": [20.0, 60.0, 90.0],
    "decode_tps_median": [80.0, 30.0, 20.0],
    "output_tps_median": [60.0, 25.0, 15.0],
    "peak_rss_mb": [500.0, 3000.0, 6000.0],
    "disk_mb": [90.0, 2500.0, 4000.0],
    "mean_facet_score": [2.0, 4.5, 4.0],
    "facet_coverage": [0.25, 0.875, 0.75],
})


def test_scores_run_from_worst_0_to_best_1_in_the_better_direction() -> None:
    scores = compare.normalized_scores(KNOWN)
    assert scores["latency"].tolist() == pytest.approx([1.0, 1 - 250 / 750, 0.0])
    assert scores["quality"].tolist() == pytest.approx([0.0, 1.0, 0.8])
    assert scores["throughput"].tolist() == pytest.approx([1.0, 1 / 6, 0.0])
    assert scores["license"].tolist() == pytest.approx([1.0, 0.0, 1.0])


def test_equal_values_cannot_decide_and_missing_values_score_worst() -> None:
    table = KNOWN.assign(disk_mb=100.0, mean_facet_score=[np.nan, 4.5, 4.0])
    scores = compare.normalized_scores(table)
    assert scores["disk"].tolist() == [1.0, 1.0, 1.0]
    assert scores["quality"].tolist() == [0.0, 1.0, 0.0]
    assert compare.rank_models(table).set_index("model").at["fast", "missing"] == "quality"


def test_default_weights_rank_the_fast_slm_first_and_quality_weights_the_better_model() -> None:
    ranked = compare.rank_models(KNOWN)
    assert ranked["model"].tolist() == ["fast", "good", "slow"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    by_quality = compare.rank_models(KNOWN, {"quality": 1, "latency": 0, "throughput": 0, "memory": 0, "disk": 0,
                                             "license": 0})
    assert by_quality["model"].tolist() == ["good", "slow", "fast"]
    assert by_quality["weighted_score"].tolist() == pytest.approx([1.0, 0.8, 0.0])


def test_weights_are_rescaled_and_bad_weights_are_named() -> None:
    assert sum(compare.resolve_weights({"quality": 3}).values()) == pytest.approx(1.0)
    assert compare.resolve_weights(dict.fromkeys(compare.DIMENSIONS, 2)) == pytest.approx(
        dict.fromkeys(compare.DIMENSIONS, 1 / 6))
    with pytest.raises(ValueError, match="unknown weight.*'speed'"):
        compare.resolve_weights({"speed": 1})
    with pytest.raises(ValueError, match="0 or more"):
        compare.resolve_weights({"quality": -1})
    with pytest.raises(ValueError, match="above 0"):
        compare.resolve_weights(dict.fromkeys(compare.DIMENSIONS, 0))


def test_pareto_front_keeps_exactly_the_undominated_models() -> None:
    assert compare.pareto_front(KNOWN).tolist() == [True, True, False]
    tied = pd.DataFrame({"mean_facet_score": [3.0, 3.0, np.nan], "e2e_ms_p95": [100.0, 100.0, 50.0]})
    assert compare.pareto_front(tied).tolist() == [True, True, False]  # equal models do not dominate each other


def test_recommendation_names_the_model_its_strengths_costs_and_size_framing() -> None:
    text = compare.recommendation(compare.rank_models(KNOWN))
    assert text.startswith("**Recommendation: fast** (tiny, 135M parameters, license apache-2.0)")
    assert "latency (p95 end-to-end latency (ms): 150)" in text
    assert "trails on quality (2.00 vs 4.50 for good)" in text
    assert "tiny vs larger large: against slow" in text
    assert "heuristic" in text


def test_comparison_table_joins_footprint_license_and_quality() -> None:
    summary = KNOWN[["model", "status", "e2e_ms_p50", "e2e_ms_p95", "ttft_ms_p50", "decode_tps_median",
                     "output_tps_median", "peak_rss_mb"]].assign(
        model=["smollm2-135m-instruct-int4", "gemma-3-270m-base-int4", "not-in-models-json"], disk_mb=np.nan)
    quality = pd.DataFrame({"model": ["smollm2-135m-instruct-int4"], "mean_facet_score": [3.5],
                            "facet_coverage": [0.625]})
    table = compare.comparison_table(summary, quality, load_models()).set_index("model")
    assert table.at["smollm2-135m-instruct-int4", "license_score"] == 1.0
    assert table.at["gemma-3-270m-base-int4", "license_score"] == 0.5
    assert table.at["smollm2-135m-instruct-int4", "disk_mb"] == 90  # models.json size_mb when not measured
    assert table.at["smollm2-135m-instruct-int4", "mean_facet_score"] == 3.5
    assert np.isnan(table.at["gemma-3-270m-base-int4", "mean_facet_score"])
    unknown = table.loc["not-in-models-json"]
    assert pd.isna(unknown["license"]) and unknown["license_score"] == 0.0 and unknown["size_class"] == "unknown"


def _summary(e2e_ms: dict[str, list[float]], decode_tps: dict[str, list[float]]) -> pd.DataFrame:
    """A benchmark-like summary from raw samples, through the kit's own statistics (bootstrap CIs)."""
    trials = pd.DataFrame([{"model": model, "e2e_ms": e2e, "ttft_ms": e2e / 5, "decode_tps": tps}
                           for model in e2e_ms for e2e, tps in zip(e2e_ms[model], decode_tps[model])])
    summary = summarize(trials, "model", ["e2e_ms", "ttft_ms", "decode_tps"])
    return summary.rename(columns={"decode_tps_p50": "decode_tps_median"})


def test_run_comparison_flags_a_real_change_and_ignores_noise() -> None:
    rng = np.random.default_rng(1)
    noise = lambda centre: list(centre * (1 + rng.normal(0, 0.03, 12)))  # noqa: E731 - 3% timing jitter
    before = _summary({"a": noise(400), "b": noise(400)}, {"a": noise(50), "b": noise(50)})
    after = _summary({"a": noise(400), "b": noise(600)}, {"a": noise(50), "b": noise(33)})  # b got 1.5x slower
    result = compare.compare_runs(before, after).set_index(["model", "metric"])
    assert not result.loc[("a", "e2e_ms"), "beyond_noise"]
    assert result.loc[("a", "e2e_ms"), "verdict"] == "within noise"
    assert result.loc[("a", "e2e_ms"), "ratio"] == pytest.approx(1.0, abs=0.05)
    assert result.loc[("b", "e2e_ms"), "verdict"] == "worse"
    assert result.loc[("b", "e2e_ms"), "ratio"] == pytest.approx(1.5, abs=0.1)
    assert result.loc[("b", "decode_tps"), "verdict"] == "worse"  # a lower rate is worse
    improvement = compare.compare_runs(after, before).set_index(["model", "metric"])
    assert improvement.loc[("b", "e2e_ms"), "verdict"] == "better"


def test_run_comparison_without_confidence_intervals_says_so() -> None:
    one_sample = _summary({"a": [400.0]}, {"a": [50.0]})
    result = compare.compare_runs(one_sample, one_sample)
    assert result["verdict"].eq("no CI").all() and result["beyond_noise"].isna().all()


def test_answer_diffs_show_only_answers_that_changed() -> None:
    def trials(texts: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"model": "m", "prompt_id": ["p", "p", "q"], "round": [0, 1, 0], "warmup": False,
                             "ok": True, "text": texts})

    diffs = compare.answer_diffs(trials(["Paris.", "Paris.", "Four"]), trials(["Paris.", "Paris.", "4"]))
    assert diffs["same"].tolist() == [True, True, False]
    changed = diffs.iloc[2]["diff"]
    assert "-Four" in changed and "+4" in changed
    assert diffs.iloc[0]["diff"] == ""


def test_energy_estimate_from_throughput_and_watts() -> None:
    summary = pd.DataFrame({"model": ["a", "b"], "output_tps_median": [50.0, np.nan]})
    estimate = energy.energy_estimate(summary, watts=36.0, price_per_kwh=0.5)
    a = estimate.iloc[0]
    assert a["seconds_per_1k_tokens"] == pytest.approx(20.0)
    assert a["wh_per_1k_tokens"] == pytest.approx(36 * 20 / 3600)  # 0.2 Wh
    assert a["cost_per_1k_tokens"] == pytest.approx(0.2 / 1000 * 0.5)
    assert a["cost_per_1m_tokens"] == pytest.approx(0.1)
    assert np.isnan(estimate.iloc[1]["wh_per_1k_tokens"])
    assert set(estimate["label"]) == {energy.ESTIMATE_LABEL}
    with pytest.raises(ValueError, match="watts"):
        energy.energy_estimate(summary, watts=0)
    assert (a["currency"], a["price_per_kwh"]) == (energy.DEFAULT_CURRENCY, 0.5)  # every cost says its currency
    in_usd = energy.energy_estimate(summary, watts=36.0, price_per_kwh=0.2, currency="USD").iloc[0]
    assert in_usd["currency"] == "USD" and in_usd["cost_per_1m_tokens"] == pytest.approx(0.04)


def test_rapl_meter_reads_counters_and_their_wraparound(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert energy.read_rapl_uj(tmp_path) is None
    with energy.RaplMeter(tmp_path) as meter:
        pass
    assert meter.watts is None  # unreadable counters: no measurement, never a made-up one
    counter = tmp_path / "energy_uj"
    (tmp_path / "max_energy_range_uj").write_text("1000000000\n")
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(energy.time, "perf_counter", lambda: next(clock))
    counter.write_text("999000000\n")
    with energy.RaplMeter(tmp_path) as meter:
        counter.write_text("19000000\n")  # wrapped: 1 J to the top, then 19 J
    assert meter.watts == pytest.approx(20.0 / 2.0)


# --- size classes and gates before weights ------------------------------------------------------------------------


@pytest.mark.parametrize("params_b,expected", [(0.135, "tiny"), (0.27, "tiny"), (0.49, "small"), (1.54, "mid"),
                                               (3.8, "mid"), (7.2, "large"), (None, "unknown")])
def test_size_classes_for_a_laptop_cpu(params_b, expected) -> None:
    assert size_class(params_b) == expected


def test_ladder_entries_carry_their_size_class() -> None:
    models = load_models().models
    assert [models[name].size_class for name in load_models().defaults["offline"]] == ["tiny", "small", "mid"]


# The measurement (meeting-notes, 1 round, 96 tokens): SmolLM2 2.08, Qwen 1.5B 4.20; default weights
# still put the fast 135M model first. A quality floor of 3 excludes it before the weights are applied.
LADDER = KNOWN.assign(model=["smollm2", "qwen-1.5b", "big"], mean_facet_score=[2.08, 4.20, 4.4],
                      license=["apache-2.0", "apache-2.0", "custom"], peak_rss_mb=[500.0, 2500.0, 9000.0])


def test_gates_exclude_by_quality_memory_and_license_and_say_which() -> None:
    gates = SelectionGates(quality_floor=3.0, memory_budget_mb=4000, licenses=["apache-2.0", "mit"])
    gated = compare.apply_gates(LADDER, gates).set_index("model")
    assert gated["passed"].to_dict() == {"smollm2": False, "qwen-1.5b": True, "big": False}
    assert gated.at["smollm2", "excluded_by"] == "quality 2.08 < floor 3 (facet score 1-5)"
    assert "memory 9,000 MB > budget 4,000 MB" in gated.at["big", "excluded_by"]
    assert "license custom not in apache-2.0, mit" in gated.at["big", "excluded_by"]


def test_unknown_quality_or_memory_fails_its_gate() -> None:
    table = LADDER.assign(mean_facet_score=[np.nan, 4.2, 4.4], peak_rss_mb=[500.0, np.nan, 100.0])
    gated = compare.apply_gates(table, SelectionGates(licenses=None)).set_index("model")
    assert gated.at["smollm2", "excluded_by"] == "quality unknown (no scored answers)"
    assert gated.at["qwen-1.5b", "excluded_by"] == "memory unknown (peak RSS not measured)"


def test_default_weights_pick_smollm2_but_gates_first_pick_the_model_that_passes() -> None:
    assert compare.rank_models(LADDER)["model"].iloc[0] == "smollm2"
    gates = SelectionGates(quality_floor=3.0, memory_budget_mb=4000, licenses=["apache-2.0"])
    ranked = compare.gated_ranking(LADDER, gates)
    assert ranked["model"].tolist()[0] == "qwen-1.5b" and ranked["rank"].tolist()[0] == 1
    assert ranked["rank"].isna().tolist() == [False, True, True]
    text = compare.gated_recommendation(ranked, gates)
    assert text.startswith("**Recommendation: qwen-1.5b**")
    assert "excluded: smollm2 (quality 2.08 < floor 3 (facet score 1-5)); big (" in text


def test_nothing_passes_nothing_is_recommended_and_why() -> None:
    gates = SelectionGates(quality_floor=4.9, memory_budget_mb=None, licenses=None)
    ranked = compare.gated_ranking(LADDER, gates)
    text = compare.gated_recommendation(ranked, gates)
    assert text.startswith("**No recommendation: no model passes the gates.**")
    assert "smollm2 (quality 2.08 < floor 4.9" in text and "Recommendation:" not in text
    assert ranked["rank"].isna().all() and ranked["pareto"].any()


def test_nothing_passes_the_ranking_keeps_its_columns_for_the_reports() -> None:
    """`report` on a run where every model fails a gate rendered a KeyError: the table keeps every column, empty."""
    from helpers.present.render import RANKING_COLUMNS, VALUE_COLUMNS

    table = LADDER.assign(size_class="tiny")
    ranked = compare.gated_ranking(table, SelectionGates(quality_floor=4.9, memory_budget_mb=None, licenses=None))
    shown = ranked[RANKING_COLUMNS + VALUE_COLUMNS]
    assert len(shown) == len(LADDER) and not shown["passed"].any()
    assert shown[["weighted_score", *(f"score_{d}" for d in compare.DIMENSIONS)]].isna().all().all()
