"""Charts render from hand-made benchmark tables; widgets fall back to printed output that does the real work."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers.bench.settings import BenchConfig
from helpers.core.paths import REPO_ROOT
from helpers.core.progress import HEADLESS_ENV
from helpers.measure.timing import TrialTiming
from helpers.present import plots, widgets

from .conftest import SMOL

FAST, SLOW = "fast-model", "slow-model"


@pytest.fixture
def trials() -> pd.DataFrame:
    """Two models, three measured trials each plus a warm-up and a failed trial; one flagged outlier."""
    rows = []
    measured = {FAST: ([100.0, 110.0, 400.0], [300.0, 320.0, 900.0]), SLOW: ([250.0, 260.0, 270.0], [800.0, 820.0, 840.0])}
    for model, (ttft, e2e) in measured.items():
        rows.append({"model": model, "warmup": True, "ok": True, "ttft_ms": 900.0, "e2e_ms": 2000.0,
                     "outlier_ttft": False, "outlier_e2e": False})
        rows.append({"model": model, "warmup": False, "ok": False, "ttft_ms": None, "e2e_ms": 5.0,
                     "outlier_ttft": False, "outlier_e2e": False})
        rows += [{"model": model, "warmup": False, "ok": True, "ttft_ms": t, "e2e_ms": e,
                  "outlier_ttft": t == 400.0, "outlier_e2e": e == 900.0} for t, e in zip(ttft, e2e)]
    return pd.DataFrame(rows)


@pytest.fixture
def summary() -> pd.DataFrame:
    """One complete model row and one whose memory, load time and CI are unknown."""
    return pd.DataFrame([
        {"model": FAST, "n": 3, "decode_tps_median": 110.0, "decode_tps_median_ci95_low": 100.0,
         "decode_tps_median_ci95_high": 118.0, "load_s": 1.2, "peak_rss_mb": 450.0, "rss_before_mb": 190.0, "disk_mb": 90.0},
        {"model": SLOW, "n": 3, "decode_tps_median": 65.0, "decode_tps_median_ci95_low": None,
         "decode_tps_median_ci95_high": None, "load_s": None, "peak_rss_mb": None, "rss_before_mb": None, "disk_mb": 257.0},
    ])


def _rendered(fig: Figure) -> Figure:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    return fig


def _tick_labels(fig: Figure) -> list[str]:
    return [label.get_text() for label in fig.axes[0].get_yticklabels()]


@pytest.mark.parametrize(("chart", "metric"), [(plots.ttft_distribution, "ttft_ms"), (plots.latency_distribution, "e2e_ms")])
def test_distributions_plot_measured_successful_trials(trials: pd.DataFrame, chart, metric: str) -> None:
    fig = _rendered(chart(trials))
    ax = fig.axes[0]
    assert ax.get_title() and "(ms)" in ax.get_xlabel()
    assert _tick_labels(fig) == [f"{FAST}\n(n=3)", f"{SLOW}\n(n=3)"]
    drawn = np.concatenate([collection.get_offsets()[:, 0] for collection in ax.collections])
    assert sorted(drawn) == sorted(trials.loc[~trials["warmup"] & trials["ok"], metric])


def test_outliers_are_drawn_apart(trials: pd.DataFrame) -> None:
    ax = plots.ttft_distribution(trials).axes[0]
    marked = [collection.get_offsets()[:, 0].tolist() for collection in ax.collections if len(collection.get_offsets())]
    assert [400.0] in marked


def test_decode_rate_has_units_and_confidence_intervals(summary: pd.DataFrame) -> None:
    fig = _rendered(plots.decode_rate(summary))
    ax = fig.axes[0]
    assert "(tokens/s)" in ax.get_xlabel() and "CI" in ax.get_xlabel()
    assert _tick_labels(fig) == [f"{FAST}\n(n=3)", f"{SLOW}\n(n=3)"]
    bars = [patch.get_width() for patch in ax.patches]
    assert bars == [110.0, 65.0]
    error_segments = ax.collections[0].get_segments()
    assert [segment[:, 0].tolist() for segment in error_segments][0] == [100.0, 118.0]


def test_memory_and_load_time_show_missing_values_as_na(summary: pd.DataFrame) -> None:
    memory = _rendered(plots.memory_and_disk(summary))
    assert "MB" in memory.axes[0].get_xlabel()
    assert "n/a" in [text.get_text() for text in memory.axes[0].texts]
    assert {"the same process's peak RSS", "model files on disk"} <= {t.get_text() for t in memory.legends[0].get_texts()}
    load = _rendered(plots.load_time(summary))
    assert "(s)" in load.axes[0].get_xlabel()
    assert [text.get_text() for text in load.axes[0].texts] == ["1.20", "n/a"]


@pytest.mark.cli
def test_plots_never_touch_pyplot() -> None:
    """Headless safety: the object API renders with Agg, and no GUI backend is ever selected."""
    code = "import sys, helpers.present.plots; assert 'matplotlib.pyplot' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- widgets ------------------------------------------------------------------------------------------------------

def test_live_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEADLESS_ENV, "0")
    assert widgets.is_live()
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert not widgets.is_live()
    monkeypatch.delenv(HEADLESS_ENV)
    assert not widgets.is_live()  # pytest sets PYTEST_CURRENT_TEST, and nbval kernels inherit it
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert not widgets.is_live()  # plain python: no Jupyter kernel


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEADLESS_ENV, "1")


def test_playground_headless_answers_and_prints_timing(headless: None, smol, capsys: pytest.CaptureFixture) -> None:
    playground = widgets.chat_playground(smol, "Say hello in five words.", max_tokens=16)
    printed = capsys.readouterr().out
    answer = playground.answers[0]
    assert answer.ok and answer.text.strip()
    assert printed.startswith(f"you: Say hello in five words.\n{smol.alias}: {answer.text}")  # the alias, no :1
    assert f"TTFT {answer.ttft_ms:.0f} ms" in printed and "tok/s" in printed
    assert playground.turns[-1] == {"role": "assistant", "content": answer.text}


def test_playground_keeps_the_conversation(headless: None, smol) -> None:
    playground = widgets.chat_playground(smol, "My name is Ada.", max_tokens=8)
    second = playground.ask("What is my name?", lambda text: None)
    assert second.ok and len(playground.turns) == 4 and second.prompt_tokens > playground.answers[0].prompt_tokens


def test_playground_keeps_a_history_of_timings_per_model(headless: None, smol) -> None:
    playground = widgets.chat_playground([smol], "Say hello.", max_tokens=8)
    playground.use(smol.alias)  # choosing a model (here the same one) keeps the conversation
    playground.ask("And again?", lambda text: None)
    history = playground.history()
    assert list(history["model"]) == [smol.alias] * 2 and history["ttft_ms"].notna().all()
    assert history["prompt_tokens"].iloc[0] > history["prompt_tokens"].iloc[1]  # newest first: the longer prompt
    for _ in range(widgets.HISTORY_SIZE):
        playground.ask("More?", lambda text: None)
    assert len(playground.history()) == widgets.HISTORY_SIZE


def test_picker_and_toggle_headless_print_the_choice(headless: None, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    catalog = pd.DataFrame([{"alias": SMOL, "size_class": "tiny", "device": "cpu", "size_mb": 90.0,
                             "license": "apache-2.0", "source": "bundled"}])
    assert widgets.model_picker(catalog, [SMOL]).value == [SMOL]
    monkeypatch.setattr(widgets, "gpu_providers", lambda manager=None: [])
    assert widgets.device_toggle("gpu").value == "gpu"
    printed = capsys.readouterr().out
    assert f"{SMOL}  ·  tiny  ·  cpu  ·  90 MB  ·  apache-2.0  ·  bundled" in printed
    assert "Device: gpu. No GPU execution provider" in printed


def test_picker_never_preselects_a_model_the_filters_removed(headless: None, capsys: pytest.CaptureFixture) -> None:
    catalog = pd.DataFrame([{"alias": SMOL, "device": "cpu", "size_mb": 90.0, "license": "apache-2.0", "source": "bundled"}])
    assert widgets.model_picker(catalog, ["gemma-3-270m-base-int4", SMOL]).value == [SMOL]
    assert "not chosen: gemma-3-270m-base-int4" in capsys.readouterr().out
    assert widgets.model_picker(catalog, ["gemma-3-270m-base-int4"]).value == [SMOL]  # none left: the first offered


def test_progress_headless_prints_every_trial(headless: None, capsys: pytest.CaptureFixture) -> None:
    config = BenchConfig(models=(SMOL, "other"), prompts="smoke", rounds=2, warmup=1)
    progress = widgets.BenchmarkProgress(config)
    timing = TrialTiming(start=0.0, e2e_s=0.5, ttft_s=0.2, token_times=[0.2, 0.5], output_tokens=2,
                         tokens_source="usage", finish_reason="stop", text="hi")
    progress.update({"model": SMOL, "prompt_id": "hello", "round": 0, "warmup": False, **timing.to_record()})
    assert capsys.readouterr().out == f"[1/10] {SMOL} · hello · round 1: {widgets.timing_line(timing)}\n"  # 1-based
    assert "TTFT 200 ms · decode 3 tok/s · 2 tokens (usage)" in widgets.timing_line(timing)


def test_live_widgets_build(monkeypatch: pytest.MonkeyPatch, smol) -> None:
    """With a front end assumed, the same calls build ipywidgets (no kernel needed to construct them)."""
    monkeypatch.setenv(HEADLESS_ENV, "0")
    catalog = pd.DataFrame([{"alias": SMOL, "size_class": "tiny", "device": "cpu", "size_mb": 90.0,
                             "license": "apache-2.0", "source": "bundled"}])
    assert widgets.model_picker(catalog, [SMOL, "elsewhere"]).value == [SMOL]  # only what the table offers
    assert widgets.device_toggle("cpu").value == "cpu"
    progress = widgets.BenchmarkProgress(BenchConfig(models=(SMOL,), prompts="smoke", rounds=1, warmup=0))
    timing = TrialTiming(start=0.0, e2e_s=0.3, ttft_s=0.1, output_tokens=3, tokens_source="usage", finish_reason="length")
    progress.update({"model": SMOL, "prompt_id": "hello", "round": 0, "warmup": False, **timing.to_record()})
    assert progress.done == 1
    playground = widgets.chat_playground(smol, "Say hello.", max_tokens=8)
    assert playground.answers[0].ok and playground.answers[0].text


@pytest.mark.parametrize("chart", [plots.ttft_distribution, plots.latency_distribution])
def test_a_run_with_no_measured_model_draws_a_note_without_warnings(trials: pd.DataFrame, chart) -> None:
    """Every model not found or failed to load: was matplotlib's 'identical low and high ylims' warning, twice."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = _rendered(chart(trials.iloc[0:0]))
    assert [t.get_text() for t in fig.axes[0].texts] == ["no model was measured in this run"]
