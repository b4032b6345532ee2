"""Summary statistics for benchmark trials, honest about small samples.

Percentiles use `numpy.percentile(..., method="linear")` (Hyndman & Fan type 7, the NumPy/Excel default): the
value at rank (n - 1) * q, interpolated between neighbours. Percentiles therefore always lie within [min, max];
unlike `statistics.quantiles` (exclusive method), a p95 over three samples cannot exceed the maximum.

Small-sample rule: a p-th percentile needs at least 1 / (1 - p/100) samples (p90: 10, p95: 20, p99: 100), so that at
least one sample is expected above it. With fewer, the "percentile" is an interpolation between the two largest
values, and `describe` says so in `warnings`.

Missing values (None, NaN, pandas NA) are dropped before anything is computed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

PERCENTILES = (90, 95, 99)
MIN_N_FOR_PERCENTILE = {90: 10, 95: 20, 99: 100}  # 1 / (1 - p/100)
MIN_N_FOR_CI = 10  # below this, percentile-bootstrap intervals run too narrow
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_BOOTSTRAP_BATCH_ELEMENTS = 2_000_000  # bounds memory of the resample matrix


def _present(values: Iterable[object]) -> np.ndarray:
    """The values as a float array, without None/NaN/NA."""
    return np.asarray([float(v) for v in values if not pd.isna(v)], dtype=float)


def median_ci95(
    values: Iterable[object], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """95% percentile-bootstrap confidence interval of the median (fixed seed: reproducible); None when n < 2."""
    data = _present(values)
    n = data.size
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    batch = max(1, _BOOTSTRAP_BATCH_ELEMENTS // n)
    medians = np.concatenate([
        np.median(data[rng.integers(0, n, size=(min(batch, resamples - done), n))], axis=1)
        for done in range(0, resamples, batch)
    ])
    low, high = np.percentile(medians, [2.5, 97.5], method="linear")
    return float(low), float(high)


def _small_sample_warnings(n: int) -> list[str]:
    if n == 0:
        return ["no samples"]
    if n == 1:
        return ["n=1: every percentile is that one sample; no spread, no std, no confidence interval"]
    warnings = [
        f"p{p} from n={n} samples is just an interpolation between the two largest values "
        f"(needs n >= {MIN_N_FOR_PERCENTILE[p]})"
        for p in PERCENTILES
        if n < MIN_N_FOR_PERCENTILE[p]
    ]
    if n < MIN_N_FOR_CI:
        warnings.append(
            f"median_ci95 from n={n} samples is rough: bootstrap intervals run too narrow below n={MIN_N_FOR_CI}"
        )
    return warnings


def describe(values: Iterable[object]) -> dict[str, object]:
    """n, mean, median, p90, p95, p99, min, max, std (sample, ddof=1), median_ci95 and small-sample warnings.

    Percentiles: numpy method="linear" (see module docstring), so min <= p90 <= p95 <= p99 <= max.
    With n=0 every statistic is None; std and median_ci95 are None when n < 2.
    """
    data = _present(values)
    n = int(data.size)
    summary: dict[str, object] = {"n": n}
    if n == 0:
        summary |= {key: None for key in ("mean", "median", *(f"p{p}" for p in PERCENTILES), "min", "max", "std")}
    else:
        percentiles = np.percentile(data, [50, *PERCENTILES], method="linear")
        summary |= {
            "mean": float(np.mean(data)),
            "median": float(percentiles[0]),
            **{f"p{p}": float(value) for p, value in zip(PERCENTILES, percentiles[1:])},
            "min": float(np.min(data)),
            "max": float(np.max(data)),
            "std": float(np.std(data, ddof=1)) if n >= 2 else None,
        }
    summary["median_ci95"] = median_ci95(data)
    summary["warnings"] = _small_sample_warnings(n)
    return summary


def iqr_outliers(values: Sequence[object]) -> list[bool]:
    """Tukey's rule: True where a value lies beyond 1.5 * IQR outside the quartiles; missing values are False.

    Quartiles use the same linear method. With very few samples the fences are wide and little gets flagged.
    """
    data = _present(values)
    if data.size == 0:
        return [False] * len(values)
    q1, q3 = np.percentile(data, [25, 75], method="linear")
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return [not pd.isna(v) and not low <= float(v) <= high for v in values]


_COLUMN_FOR_STAT = {"n": "n", "mean": "mean", "median": "p50", **{f"p{p}": f"p{p}" for p in PERCENTILES},
                    "min": "min", "max": "max", "std": "std"}


def summarize(df: pd.DataFrame, by: str | Sequence[str], metric_cols: Sequence[str]) -> pd.DataFrame:
    """One row per group of `by`, with `describe` columns per metric.

    Columns: the `by` keys, then for each metric e.g. `e2e_ms_n`, `e2e_ms_mean`, `e2e_ms_p50`, `e2e_ms_p90`,
    `e2e_ms_p95`, `e2e_ms_p99`, `e2e_ms_min`, `e2e_ms_max`, `e2e_ms_std`, `e2e_ms_median_ci95_low`,
    `e2e_ms_median_ci95_high`, `e2e_ms_warnings` (the warnings joined with "; ").
    """
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for group_key, group in df.groupby(keys, dropna=False, sort=True):
        row: dict[str, object] = dict(zip(keys, group_key))
        for metric in metric_cols:
            stats = describe(group[metric])
            row |= {f"{metric}_{column}": stats[stat] for stat, column in _COLUMN_FOR_STAT.items()}
            ci = stats["median_ci95"]
            row[f"{metric}_median_ci95_low"], row[f"{metric}_median_ci95_high"] = ci if ci else (None, None)
            row[f"{metric}_warnings"] = "; ".join(stats["warnings"])
        rows.append(row)
    columns = keys + [
        f"{metric}_{column}"
        for metric in metric_cols
        for column in (*_COLUMN_FOR_STAT.values(), "median_ci95_low", "median_ci95_high", "warnings")
    ]
    return pd.DataFrame(rows, columns=columns)
