"""Case 9 of issue #17: a run compared with a repeat of itself is never "better" or "worse"."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from helpers.evaluate import compare
from helpers.measure import run_noise
from helpers.measure.stats import summarize

MEDIANS = {metric: median for metric, (median, _, _) in compare.RUN_METRICS.items()}


def _run(rng: np.random.Generator, drift: float, other_cpu_pct: float, n: int = 12) -> pd.DataFrame:
    """A summary of one run whose timings all move by `drift` (the machine's state), with 2% jitter per trial."""
    jitter = lambda centre: centre * (1 + drift) * (1 + rng.normal(0, 0.02, n))  # noqa: E731
    trials = pd.DataFrame({"model": "m", "e2e_ms": jitter(1000.0), "ttft_ms": jitter(300.0),
                           "decode_tps": 50.0 / (1 + drift) * (1 + rng.normal(0, 0.02, n))})
    summary = summarize(trials, "model", ["e2e_ms", "ttft_ms", "decode_tps"])
    return summary.rename(columns={"decode_tps_p50": "decode_tps_median"}).assign(other_cpu_pct=other_cpu_pct)


def test_repeats_measure_their_own_floor_and_never_call_a_change() -> None:
    """Three repeats drifting by up to 8% between runs (tight CIs each): pairwise, never better or worse."""
    rng = np.random.default_rng(7)
    repeats = [_run(rng, drift, 10.0) for drift in (0.0, 0.08, 0.03)]
    floor = run_noise.noise_floor(repeats, MEDIANS)
    assert floor["e2e_ms"] == pytest.approx(0.08, abs=0.03)
    for first, second in itertools.permutations(repeats, 2):
        verdicts = compare.compare_runs(first, second, noise_floor=floor)["verdict"]
        assert set(verdicts) <= {"within noise"}, verdicts.tolist()


def test_a_busier_machine_makes_it_cannot_tell() -> None:
    """Notebook 05's repeat: TTFT 1,352 -> 1,013 ms while other processes took far more CPU in the first run."""
    rng = np.random.default_rng(3)
    busy, quiet = _run(rng, 0.33, other_cpu_pct=70.0), _run(rng, 0.0, other_cpu_pct=12.0)
    result = compare.compare_runs(busy, quiet).set_index("metric")
    assert set(result["verdict"]) == {"cannot tell"} and not result["beyond_noise"].any()
    assert "70%" in result.loc["ttft_ms", "load_note"] and "12%" in result.loc["ttft_ms", "load_note"]


def test_a_real_change_beyond_the_floor_on_an_equally_busy_machine_is_called() -> None:
    rng = np.random.default_rng(5)
    before, after = _run(rng, 0.0, 10.0), _run(rng, 0.5, 14.0)  # a quiet machine both times
    assert set(compare.compare_runs(before, after)["verdict"]) == {"worse"}
    assert set(compare.compare_runs(after, before)["verdict"]) == {"better"}


def test_a_floor_needs_repeats() -> None:
    with pytest.raises(ValueError, match="at least two repeats"):
        run_noise.noise_floor([_run(np.random.default_rng(1), 0.0, 0.0)], MEDIANS)


def test_a_machine_busy_with_other_work_cannot_tell() -> None:
    """Measured: repeats of SmolLM2 moved by a third while other processes took ~85% of the CPU in every run."""
    rng = np.random.default_rng(11)
    first, second = _run(rng, 0.0, 85.0), _run(rng, 0.3, 86.0)
    result = compare.compare_runs(first, second)
    assert set(result["verdict"]) == {"cannot tell"} and "busy with other work" in result["load_note"].iloc[0]
