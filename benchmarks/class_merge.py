"""Merging a fleet: how long the class report takes over 10,000 synthetic share bundles, and its peak memory.

    .venv/bin/python benchmarks/class_merge.py [--bundles 10000] [--memory-limit 1GB]

Writes the bundles into a temporary folder (`helpers.classroom.synthetic`), then builds the class report
(`helpers.classroom.class_report.build`: every file checked, then merged by DuckDB) and prints the wall time of
each stage and the process's peak resident memory (ru_maxrss, which includes the Python interpreter and pandas:
the figure a laptop needs). Timings are noisy on a shared machine: run it twice.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.classroom.class_report import build, write  # noqa: E402
from helpers.classroom.synthetic import write_synthetic  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB = 10^6 bytes (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=10_000)
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 1GB (default: DuckDB's, 80%% of RAM)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        files = write_synthetic(folder, args.bundles)
        written_s = time.perf_counter() - started
        before = peak_rss_mb()
        started = time.perf_counter()
        report = build(folder, memory_limit=args.memory_limit)
        write(report, Path(folder) / "class-report")
        total_s = time.perf_counter() - started
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"{args.bundles:,} synthetic bundles ({size_mb:,.1f} MB of JSON, written in {written_s:.1f} s)")
        print(f"check every bundle: {report.seconds['check']:.2f} s")
        print(f"DuckDB merge (read_json, latest per machine, spread, outliers): {report.seconds['merge']:.2f} s")
        print(f"class report in all (check + merge + picks + files): {total_s:.2f} s")
        print(f"peak RSS of the process: {peak_rss_mb():,.0f} MB (before the report: {before:,.0f} MB)")
        print(f"machines: {report.merged.machines:,}, machine classes: {report.picks.shape[0]}, "
              f"outlier rows: {len(report.merged.outliers):,}")


if __name__ == "__main__":
    main()
