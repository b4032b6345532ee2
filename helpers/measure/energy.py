"""Cost and energy per 1k output tokens: an ESTIMATE from throughput and a power figure.

energy per 1k tokens (Wh) = watts × (1000 / output tokens per second) / 3600, and cost = energy × price per kWh,
in the currency of that price (`currency`, shown in every table: `--currency` / `--price-per-kwh` of the report).
The rate is the median `output_tps` (output tokens / end-to-end latency: what one user waiting for one answer
gets, first-token wait included), so the estimate assumes requests one after another, never batched.

The power figure is either configured (`DEFAULT_WATTS`, a laptop CPU package under load; pass your device's
figure) or measured on Linux with Intel/AMD RAPL energy counters (`RaplMeter`, readable at
/sys/class/powercap/intel-rapl:0/energy_uj, often root only). RAPL covers the CPU package, not the whole machine
(no screen, disk, fans, power supply losses), so even a measured figure gives a lower bound: an estimate either way.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

RAPL_DIR = Path("/sys/class/powercap/intel-rapl:0")
DEFAULT_WATTS = 30.0
DEFAULT_PRICE_PER_KWH = 0.30  # electricity only (no hardware amortisation), in DEFAULT_CURRENCY
DEFAULT_CURRENCY = "EUR"
ESTIMATE_LABEL = "ESTIMATE"
ENERGY_COLUMNS = ["model", "output_tps_median", "watts", "power_source", "seconds_per_1k_tokens",
                  "wh_per_1k_tokens", "price_per_kwh", "currency", "cost_per_1k_tokens", "cost_per_1m_tokens", "label"]


def read_rapl_uj(rapl_dir: Path = RAPL_DIR) -> int | None:
    """The package energy counter in microjoules, or None when it does not exist or is not readable."""
    try:
        return int((rapl_dir / "energy_uj").read_text().strip())
    except (OSError, ValueError):
        return None


class RaplMeter:
    """Average package power over a `with` block, from RAPL counters; `watts` stays None where unreadable.

    Usage: `with RaplMeter() as meter: run_benchmark(...)`, then `meter.watts` (None without readable RAPL).
    """

    def __init__(self, rapl_dir: Path = RAPL_DIR) -> None:
        self.rapl_dir = rapl_dir
        self.watts: float | None = None
        self._start: tuple[int, float] | None = None

    def __enter__(self) -> "RaplMeter":
        energy = read_rapl_uj(self.rapl_dir)
        self._start = None if energy is None else (energy, time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        energy, now = read_rapl_uj(self.rapl_dir), time.perf_counter()
        if self._start is None or energy is None or now <= self._start[1]:
            return
        used = energy - self._start[0]
        if used < 0:  # the counter wrapped around
            max_range = read_rapl_uj_range(self.rapl_dir)
            used = used + max_range if max_range else None
        if used is not None:
            self.watts = used / 1e6 / (now - self._start[1])


def read_rapl_uj_range(rapl_dir: Path = RAPL_DIR) -> int | None:
    """The value at which the RAPL counter wraps around (microjoules), or None when unreadable."""
    try:
        return int((rapl_dir / "max_energy_range_uj").read_text().strip())
    except (OSError, ValueError):
        return None


def energy_estimate(summary: pd.DataFrame, watts: float = DEFAULT_WATTS, power_source: str = "configured",
                    price_per_kwh: float = DEFAULT_PRICE_PER_KWH, currency: str = DEFAULT_CURRENCY) -> pd.DataFrame:
    """Per model: seconds, Wh and cost per 1k output tokens (and cost per 1M) at `watts` (ESTIMATE; NaN without
    a throughput); costs are in `currency` at `price_per_kwh`, both given in the table."""
    if watts <= 0:
        raise ValueError(f"watts must be above 0 (got {watts}); pass the device's power draw under load")
    rate = pd.to_numeric(summary["output_tps_median"], errors="coerce")
    seconds = 1000 / rate.where(rate > 0)
    energy = pd.DataFrame({"model": summary["model"], "output_tps_median": rate, "watts": float(watts),
                           "power_source": power_source, "seconds_per_1k_tokens": seconds,
                           "wh_per_1k_tokens": watts * seconds / 3600})
    energy["price_per_kwh"], energy["currency"] = float(price_per_kwh), currency
    energy["cost_per_1k_tokens"] = energy["wh_per_1k_tokens"] / 1000 * price_per_kwh
    energy["cost_per_1m_tokens"] = energy["cost_per_1k_tokens"] * 1000  # readable where 1k rounds to 0.00
    energy["label"] = ESTIMATE_LABEL
    return energy[ENERGY_COLUMNS].reset_index(drop=True)
