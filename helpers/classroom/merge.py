"""Merging share bundles with DuckDB: one row per machine x model, then the spread per model and machine class.

`merge(ndjson)` reads the checked bundles, one per line of a newline-delimited JSON file (`class_report` writes it
while checking each bundle file), with DuckDB's `read_json` (only the columns below; DuckDB parses the file in
parallel and spills to disk past its memory limit, so a fleet of 10,000 machines merges the way a class of 30
does; one file, because DuckDB opening 10,000 small files took ~100x longer here) and answers with pandas tables:

- `runs`: one row per machine x model, the latest bundle of each machine (by `created`; a re-sent bundle
  counts once);
- `spread`: per model x machine class, and per model over every machine (`machine_class` = ALL_MACHINES): the
  number of machines and the min / median / max across machines of TTFT p50, decode tok/s, % of the decode
  roofline, peak memory, and the max of e2e p95 (the slowest machine's tail); medians are DuckDB's
  `quantile_cont` (linear interpolation, like numpy's default);
- `outliers`: machines whose decode rate or TTFT is outside Tukey's fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR) among the
  machines of their class running the same model (classes of at least OUTLIER_MIN_MACHINES machines).

Lines must be bundles that passed `bundle.parse_bundle`: the merge trusts their shape, not their content.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ALL_MACHINES = "all machines"
OUTLIER_MIN_MACHINES = 4
_NUMBERS = ("ttft_ms_p50", "ttft_ms_p95", "e2e_ms_p50", "e2e_ms_p95", "tpot_ms_p50", "decode_tps_median",
            "output_tps_median", "peak_rss_mb", "disk_mb", "load_s", "decode_roofline_pct", "quality")
_COLUMNS = {
    "bundle_id": "VARCHAR", "created": "VARCHAR", "label": "VARCHAR",
    "machine": "STRUCT(machine_id VARCHAR, machine_class VARCHAR, cpu VARCHAR, physical_cores BIGINT, "
               "ram_gb DOUBLE, memory_bandwidth_gbps DOUBLE)",
    "models": "STRUCT(model VARCHAR, status VARCHAR, n BIGINT, errors BIGINT, "
              + ", ".join(f"{name} DOUBLE" for name in _NUMBERS) + ")[]",
}
SPREAD_METRICS = {"ttft_ms_p50": "TTFT p50 (ms)", "decode_tps_median": "decode (tok/s)",
                  "decode_roofline_pct": "% of decode roofline", "peak_rss_mb": "peak memory (MB)"}


@dataclass
class ClassMerge:
    """The merged class: `runs` (machine x model), `spread` (model x machine class), `outliers`; counts."""

    runs: pd.DataFrame
    spread: pd.DataFrame
    outliers: pd.DataFrame
    bundles: int
    machines: int


def _connect(ndjson: Path, memory_limit: str | None):
    import duckdb

    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("CREATE TABLE bundles AS SELECT * FROM read_json($path, columns = $columns, "
                "format = 'newline_delimited')", {"path": str(ndjson), "columns": _COLUMNS})
    numbers = ", ".join(f"m.{name} AS {name}" for name in _NUMBERS)
    con.execute(f"""
        CREATE TABLE runs AS
        WITH latest AS (
            SELECT * FROM bundles
            QUALIFY row_number() OVER (PARTITION BY machine.machine_id ORDER BY created DESC, bundle_id) = 1),
        flat AS (SELECT bundle_id, created, label, machine, unnest(models) AS m FROM latest)
        SELECT machine.machine_id AS machine_id, coalesce(nullif(label, ''), machine.machine_id) AS machine,
               machine.machine_class AS machine_class, machine.cpu AS cpu, machine.physical_cores AS cores,
               machine.ram_gb AS ram_gb, machine.memory_bandwidth_gbps AS memory_bandwidth_gbps,
               bundle_id, m.model AS model, m.status AS status, m.n AS n, m.errors AS errors, {numbers}
        FROM flat""")
    return con


def _spread_sql(group: str) -> str:
    stats = ", ".join(f"min({c}) AS {c}_min, quantile_cont({c}, 0.5) AS {c}_median, max({c}) AS {c}_max"
                      for c in SPREAD_METRICS)
    return f"""SELECT model, {group} AS machine_class, count(*) AS machines,
                      count(*) FILTER (WHERE status = 'ok') AS machines_ok, {stats},
                      max(e2e_ms_p95) AS e2e_ms_p95_max, quantile_cont(quality, 0.5) AS quality_median,
                      min(cores) AS _cores, min(ram_gb) AS _ram
               FROM runs GROUP BY ALL"""


def _outliers_sql() -> str:
    checks = []
    for metric in ("decode_tps_median", "ttft_ms_p50"):
        checks.append(f"""
            SELECT r.machine, r.machine_id, r.machine_class, r.model, '{metric}' AS metric, r.{metric} AS value,
                   f.q1, f.median, f.q3, f.q1 - 1.5 * (f.q3 - f.q1) AS low_fence, f.q3 + 1.5 * (f.q3 - f.q1) AS high_fence
            FROM runs r JOIN (
                SELECT model, machine_class, quantile_cont({metric}, 0.25) AS q1, quantile_cont({metric}, 0.5) AS median,
                       quantile_cont({metric}, 0.75) AS q3, count({metric}) AS k
                FROM runs GROUP BY ALL) f USING (model, machine_class)
            WHERE f.k >= {OUTLIER_MIN_MACHINES}
              AND (r.{metric} < f.q1 - 1.5 * (f.q3 - f.q1) OR r.{metric} > f.q3 + 1.5 * (f.q3 - f.q1))""")
    return " UNION ALL ".join(checks) + " ORDER BY model, machine_class, metric, value"


def merge(ndjson: Path, memory_limit: str | None = None) -> ClassMerge:
    """Merge checked bundles, one per line of `ndjson` (see the module docstring); `memory_limit` is DuckDB's
    (e.g. '1GB')."""
    con = _connect(ndjson, memory_limit)
    try:
        spread = con.sql(f"({_spread_sql('machine_class')}) UNION ALL ({_spread_sql(repr(ALL_MACHINES))}) "
                         f"ORDER BY model, machine_class = {ALL_MACHINES!r} DESC, _cores, _ram, machine_class").df()
        spread = spread.drop(columns=["_cores", "_ram"])  # smaller machines first
        return ClassMerge(
            runs=con.sql("SELECT * FROM runs ORDER BY model, machine_class, machine").df(),
            spread=spread,
            outliers=con.sql(_outliers_sql()).df(),
            bundles=con.execute("SELECT count(*) FROM bundles").fetchall()[0][0],
            machines=con.execute("SELECT count(DISTINCT machine_id) FROM runs").fetchall()[0][0],
        )
    finally:
        con.close()
