"""helpers.measure.stats: small samples, missing values, percentile bounds, bootstrap CI, outliers, per-group summaries."""
from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.measure.stats import describe, iqr_outliers, median_ci95, summarize

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
maybe_missing = st.one_of(finite, st.none(), st.just(math.nan))


def test_no_samples() -> None:
    summary = describe([])
    assert summary["n"] == 0
    assert all(summary[key] is None for key in ("mean", "median", "p90", "p95", "p99", "min", "max", "std"))
    assert summary["median_ci95"] is None and summary["warnings"] == ["no samples"]


def test_only_missing_values_count_as_no_samples() -> None:
    assert describe([None, math.nan, pd.NA])["n"] == 0


def test_one_sample() -> None:
    summary = describe([42.0])
    assert summary["n"] == 1
    assert {summary[k] for k in ("mean", "median", "p90", "p95", "p99", "min", "max")} == {42.0}
    assert summary["std"] is None and summary["median_ci95"] is None
    assert summary["warnings"] and "n=1" in summary["warnings"][0]


def test_two_samples() -> None:
    summary = describe([1.0, 2.0])
    assert (summary["median"], summary["p95"]) == (1.5, pytest.approx(1.95))
    assert summary["std"] == pytest.approx(math.sqrt(0.5))
    assert summary["median_ci95"] == (1.0, 2.0)


def test_three_samples_p95_stays_below_the_maximum() -> None:
    values = [100.0, 200.0, 300.0]
    # The upstream sample's mistake: the exclusive method extrapolates beyond the largest observation.
    assert statistics.quantiles(values, n=20)[18] > max(values)
    summary = describe(values)
    assert summary["p95"] == pytest.approx(290.0) and summary["p99"] <= summary["max"] == 300.0
    assert any(w.startswith("p95 from n=3 samples is just an interpolation between the two largest") for w in
               summary["warnings"])


@pytest.mark.parametrize(("n", "warned"), [(9, {90, 95, 99}), (10, {95, 99}), (19, {95, 99}), (20, {99}),
                                           (100, set())])
def test_small_sample_warnings_per_percentile(n: int, warned: set[int]) -> None:
    warnings = describe(np.arange(n, dtype=float))["warnings"]
    assert {p for p in (90, 95, 99) if any(w.startswith(f"p{p} ") for w in warnings)} == warned


def test_missing_values_are_dropped() -> None:
    summary = describe([3.0, None, math.nan, 1.0, pd.NA, 2.0])
    assert (summary["n"], summary["median"], summary["min"], summary["max"]) == (3, 2.0, 1.0, 3.0)


def test_describe_is_json_safe_and_reproducible() -> None:
    values = [12.5, 11.0, 13.2, 12.1, 40.0, 12.7, 11.9, 12.3, 12.0, 12.2, 12.6]
    first, second = describe(values), describe(values)
    assert first == second
    json.dumps(first)


@settings(max_examples=150, deadline=None)
@given(st.lists(maybe_missing, max_size=60))
def test_percentiles_always_within_min_and_max(values: list[float | None]) -> None:
    summary = describe(values)
    if summary["n"] == 0:
        return
    ordered = [summary[k] for k in ("min", "median", "p90", "p95", "p99", "max")]
    assert ordered == sorted(ordered)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=2, max_size=40))
def test_bootstrap_ci_contains_the_median(values: list[float]) -> None:
    low, high = median_ci95(values)
    assert low <= float(np.median(values)) <= high


def test_bootstrap_ci_narrows_with_more_samples() -> None:
    rng = np.random.default_rng(1)
    small, large = median_ci95(rng.normal(100, 10, 10)), median_ci95(rng.normal(100, 10, 400))
    assert large[1] - large[0] < small[1] - small[0]


def test_iqr_flags_the_planted_outlier_only() -> None:
    values = [10.0, 11.0, 12.0, 10.5, None, 11.5, 12.5, 11.0, 50.0, 10.8]
    flags = iqr_outliers(values)
    assert len(flags) == len(values)
    assert [i for i, flagged in enumerate(flags) if flagged] == [8]


def test_iqr_on_tiny_or_empty_input() -> None:
    assert iqr_outliers([]) == []
    assert iqr_outliers([None]) == [False]
    assert iqr_outliers([5.0]) == [False]


def test_summarize_per_group() -> None:
    df = pd.DataFrame({
        "model": ["a", "a", "a", "b", "b", "b"],
        "device": ["cpu"] * 6,
        "e2e_ms": [100.0, 110.0, 120.0, 200.0, None, 220.0],
        "ttft_ms": [10.0, 11.0, 12.0, math.nan, math.nan, math.nan],
    })
    table = summarize(df, by=["model", "device"], metric_cols=["e2e_ms", "ttft_ms"])
    assert list(table["model"]) == ["a", "b"] and list(table["device"]) == ["cpu", "cpu"]
    a, b = table.iloc[0], table.iloc[1]
    assert (a.e2e_ms_n, a.e2e_ms_p50, a.e2e_ms_p95) == (3, 110.0, pytest.approx(119.0))
    assert (b.e2e_ms_n, b.e2e_ms_p50, b.e2e_ms_min, b.e2e_ms_max) == (2, 210.0, 200.0, 220.0)
    assert b.e2e_ms_median_ci95_low <= 210.0 <= b.e2e_ms_median_ci95_high
    assert b.ttft_ms_n == 0 and b.ttft_ms_warnings == "no samples" and pd.isna(b.ttft_ms_p50)
    assert "p95 from n=3" in a.e2e_ms_warnings
    for stat in ("n", "mean", "p50", "p90", "p95", "p99", "min", "max", "std", "median_ci95_low",
                 "median_ci95_high", "warnings"):
        assert f"e2e_ms_{stat}" in table.columns


def test_summarize_single_key_and_empty_frame() -> None:
    df = pd.DataFrame({"model": ["a", "b"], "e2e_ms": [1.0, 2.0]})
    assert list(summarize(df, "model", ["e2e_ms"])["model"]) == ["a", "b"]
    empty = summarize(df.iloc[0:0], "model", ["e2e_ms"])
    assert empty.empty and "e2e_ms_p95" in empty.columns
