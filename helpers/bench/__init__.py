"""The benchmark: settings -> targets -> session (the run loop) -> results log -> summary -> outputs.

- `settings`: `BenchConfig` (pydantic), environment variables, `resolve_config`.
- `targets`: the backend a config names (`serve.runners`) and one trial's request.
- `memory`: the peak-RSS sampler and the system description.
- `session`: `run_benchmark`, the protocol loop and resume.
- `results`: the run folder's file names and its append-only results log.
- `summary`: `load_run` -> `BenchmarkRun`, the statistics tables.
- `markdown`: the benchmark report and console table as text.
- `outputs`: the one writer of summary.csv, summary.json and benchmark_report.md.
- `cli`: `python -m helpers bench`.

The names notebooks use (`benchmark.run_benchmark`, `report.load_run`, ...) are importable from here.
"""
from .markdown import CONSOLE_COLUMNS, console_table, markdown_table
from .results import RESULTS_FILE, RunFolderError, read_records
from .session import ResumeError, run_benchmark
from .settings import BenchConfig, resolve_config
from .summary import BenchmarkRun, load_run, measured_trials

__all__ = ["CONSOLE_COLUMNS", "RESULTS_FILE", "BenchConfig", "BenchmarkRun", "ResumeError", "RunFolderError",
           "console_table", "load_run", "markdown_table", "measured_trials", "read_records", "resolve_config",
           "run_benchmark"]
