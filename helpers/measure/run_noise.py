"""Run-versus-run noise: how much the same configuration moves between runs, and the machine load behind it.

Two runs of the same model and settings differ by more than their within-run confidence intervals say: the
machine's load drifts between runs (other processes, thermal state, caches). A difference between two runs
therefore counts as a change only when (1) the 95% bootstrap CIs of the two medians do not overlap, (2) the
medians differ by more than the between-run NOISE FLOOR (relative; measured from repeats of one configuration by
`noise_floor`, `benchmarks/run_noise.py`, else DEFAULT_NOISE_FLOOR), and (3) the machine was quiet enough and
about as busy in both runs: the CPU time other processes took during each model's run (`other_cpu_pct`, recorded
by `CpuLoadSampler` in the results log) stays under BUSY_PCT in both and differs by at most LOAD_DIFFERENCE_PCT
percentage points. Otherwise the verdict is `within noise` (1 or 2) or `cannot tell` (3: the difference may be the
load's). Measured (benchmarks/run_noise.py, a 2-core VM shared with other work, other processes ~85% of the CPU
in every run): three repeats of SmolLM2 in-process differed by up to 34% in e2e with the load figure unchanged,
so a contended machine cannot tell a change at all; repeats against the scripted server differed by < 1%.
"""
from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import psutil

# Between-run floor when none was measured, for a machine that is otherwise quiet (a busy one is `cannot tell`):
# benchmarks/run_noise.py prints the figure of a machine; pass its result to compare_runs(noise_floor=...).
DEFAULT_NOISE_FLOOR = 0.10
LOAD_DIFFERENCE_PCT = 15.0
BUSY_PCT = 50.0
WITHIN, CANNOT_TELL, NO_CI, BETTER, WORSE = "within noise", "cannot tell", "no CI", "better", "worse"


def machine_load() -> dict[str, float]:
    """The machine's load right now: 1/5/15-minute load averages (runnable processes) and logical cores."""
    one, five, fifteen = psutil.getloadavg()
    return {"loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen, "logical_cores": psutil.cpu_count() or 1}


class CpuLoadSampler:
    """CPU busy over an interval: the whole machine's (`cpu_busy_pct`) and that of processes other than the measured
    ones (`other_cpu_pct`: machine busy time minus the CPU time of `pids`, e.g. this process and a server's),
    both in percent of all logical cores. Start before a model's run, stop after it."""

    def __init__(self, pids: Iterable[int | None] = (os.getpid(),)) -> None:
        self._processes = [psutil.Process(pid) for pid in pids if pid is not None and psutil.pid_exists(pid)]
        self._start: tuple[float, float, float] | None = None
        self.cpu_busy_pct: float | None = None
        self.other_cpu_pct: float | None = None
        self.loadavg_1m: float | None = None

    def _now(self) -> tuple[float, float, float]:
        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        own = 0.0
        for process in self._processes:
            try:
                used = process.cpu_times()
                own += used.user + used.system
            except psutil.Error:
                pass
        return sum(times), busy, own  # all cores' seconds (idle included): the capacity of the interval

    def start(self) -> CpuLoadSampler:
        self._start = self._now()
        return self

    def stop(self) -> None:
        if self._start is None:
            return
        (total0, busy0, own0), (total1, busy1, own1) = self._start, self._now()
        elapsed = total1 - total0
        if elapsed > 0:
            self.cpu_busy_pct = 100.0 * (busy1 - busy0) / elapsed
            self.other_cpu_pct = max(0.0, 100.0 * ((busy1 - busy0) - (own1 - own0)) / elapsed)
        self.loadavg_1m = psutil.getloadavg()[0]


def noise_floor(repeats: Sequence[pd.DataFrame], metrics: Mapping[str, str]) -> dict[str, float]:
    """Per metric (name -> summary column of its median): the largest relative difference (symmetric:
    e^|ln(b/a)| - 1) of that median between any two repeats of one configuration (`BenchmarkRun.summary`
    frames), over the models they share. Needs 2+."""
    if len(repeats) < 2:
        raise ValueError("a noise floor needs at least two repeats of the same configuration")
    floors = {}
    for metric, column in metrics.items():
        differences = []
        for first, second in itertools.combinations(repeats, 2):
            paired = first.set_index("model")[column].to_frame("a").join(
                second.set_index("model")[column].to_frame("b"), how="inner").dropna()
            differences += [_change(a, b) for a, b in zip(paired["a"], paired["b"]) if a > 0 and b > 0]
        floors[metric] = max(differences, default=float("nan"))
    return floors


def _change(first: float, second: float) -> float:
    """The relative difference of two positive values, the same whichever comes first: e^|ln(b/a)| - 1."""
    return math.exp(abs(math.log(second) - math.log(first))) - 1


def load_difference(baseline: Mapping[str, object], candidate: Mapping[str, object]) -> str:
    """A warning when other work made the two runs incomparable ("" when comparable or unknown): the machine was
    busy (other processes above BUSY_PCT of the CPU) in either run, or busier in one than in the other. Reads
    `other_cpu_pct` of each run's summary row."""
    before, after = baseline.get("other_cpu_pct"), candidate.get("other_cpu_pct")
    if any(value is None or pd.isna(value) for value in (before, after)):
        return ""
    before, after = float(before), float(after)
    said = f"other processes took {before:.0f}% of the CPU during the baseline and {after:.0f}% during the candidate"
    if max(before, after) > BUSY_PCT:
        return f"the machine was busy with other work: {said}; compare on a quieter machine"
    if abs(after - before) > LOAD_DIFFERENCE_PCT:
        return f"the machine's load differed: {said}"
    return ""


def verdict(baseline: float, candidate: float, baseline_ci: tuple[float, float], candidate_ci: tuple[float, float],
            lower_is_better: bool, floor: float, load_note: str) -> tuple[str, bool | None]:
    """(verdict, beyond_noise) of one metric by the module's rule; beyond_noise None without both CIs."""
    if any(pd.isna(v) for v in (*baseline_ci, *candidate_ci)):
        return NO_CI, None
    separated = candidate_ci[0] > baseline_ci[1] or candidate_ci[1] < baseline_ci[0]
    beyond_floor = baseline > 0 and candidate > 0 and _change(baseline, candidate) > floor
    if not (separated and beyond_floor):
        return WITHIN, False
    if load_note:
        return CANNOT_TELL, False
    return (BETTER if (candidate < baseline) == lower_is_better else WORSE), True
