"""The one table of metric facts (helpers.bench.metrics): the README's table is the generated one, and every metric
is a column of a recorded run's summary."""
from __future__ import annotations

import re

import pytest

from helpers.bench import metrics
from helpers.bench.markdown import benchmark_markdown
from helpers.bench.summary import load_run
from helpers.core.paths import REPO_ROOT
from helpers.evaluate import compare

from .data.record import RUNS

START, END = "<!-- metrics table: python -m helpers.bench.metrics --markdown -->\n", "<!-- end metrics table -->"


@pytest.fixture(scope="module")
def recorded_summary():
    return load_run(RUNS / "candidate").summary


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(START) + r"(.*?)" + re.escape(END), readme, re.S)
    assert found, f"README.md has no metrics table between {START.strip()} and {END}"
    assert found.group(1) == metrics.markdown_table(), \
        "README.md's metrics table differs from helpers/bench/metrics.py: regenerate it with " \
        "`python -m helpers.bench.metrics --markdown` and paste it between the markers"


@pytest.mark.parametrize("column", list(metrics.METRICS))
def test_each_metric_is_a_column_of_a_recorded_summary(column: str, recorded_summary) -> None:
    assert column in recorded_summary.columns
    fact = metrics.METRICS[column]
    assert fact.unit and fact.formula and fact.source and fact.better in ("lower", "higher")


def test_the_report_and_the_comparison_use_the_table(recorded_summary) -> None:
    report = benchmark_markdown(load_run(RUNS / "candidate"))
    assert metrics.markdown_table() in report
    for dimension in compare.DIMENSIONS.values():
        if dimension.column in metrics.METRICS:
            assert dimension.better == metrics.better(dimension.column)
