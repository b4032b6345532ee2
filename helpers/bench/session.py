"""The benchmark protocol: models x prompts x rounds on one target, every trial logged the moment it completes.

Per model: look it up (unknown -> `not_found`), cold-load it (`load_s`; failure -> `load_failed`), send `warmup`
requests (recorded with `warmup: true`, excluded from statistics), then `rounds` rounds over the prompt set
(round-major: every prompt once per round) with temperature 0, a fixed seed and a fixed max_tokens by default.
By default every request starts with its own short prefix and asks HTTP servers not to reuse a cached prompt, so
TTFT measures a cold prefill on every engine (`helpers.measure.prompt_cache`; `prompt_cache="warm"` to measure the cache);
the prefix is recorded with each trial (`prompt_prefix`). One request per trial, never a retry inside a timed
region: a failed trial is recorded and the next trial is a new one. Then an optional load sweep (HTTP target), and
the model is unloaded so models never share memory. A sampler thread records the peak RSS of the serving process
from before the load to the end of the model's run, and the machine's CPU load meanwhile; a model run in this
process is then measured again in an isolated process (`bench.memory_probe`), whose peak is the model's
`peak_rss_mb`, the same wherever it runs.

Every record goes to `<out>/results.jsonl` at once (`helpers.bench.results`): a crash or Ctrl-C keeps every
finished trial, and `resume=True` continues in the same folder without redoing any, provided the config is the
same. At the end (also of an interrupted run) `helpers.bench.outputs` writes summary.csv, summary.json and
benchmark_report.md from the log.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..core.config import ConfigError, Prompt, PromptSet, resolve_prompt_set
from ..core.errors import error_text
from ..core.paths import DEFAULT_RUN_DIR
from ..core.versions import kit_version, versions
from ..measure import prompt_cache, roofline
from ..measure.memory_fit import ModelTooLargeError
from ..measure.run_noise import CpuLoadSampler, machine_load
from ..measure.timing import TrialTiming
from ..serve.errors import ModelNotFoundError
from ..serve.runners import (
    EXTERNAL_MEMORY_NOTE,
    Backend,
    EndpointBackend,
    InprocessRunner,
    OpenAIServerRunner,
    Runner,
)
from . import memory_probe
from .memory import RSS_INTERVAL_S, PeakRssSampler, system_info
from .outputs import write_run_files
from .records import (
    HeaderRecord,
    ModelDoneRecord,
    ModelLoaded,
    ModelLookupFailed,
    PromptSetInfo,
    SweepLevelRecord,
    SweepRequest,
    TargetInfo,
    TrialRecord,
)
from .results import RESULTS_FILE, ResultsLog, RunFolderError, read_records, trial_key
from .settings import BenchConfig, resolve_config
from .summary import BenchmarkRun, load_run, planned_trials
from .targets import make_target, thread_settings, timed_chat


class ResumeError(ConfigError):
    """A run folder cannot be resumed with this config."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _fingerprint(plan: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def _check_resumable(out: Path, saved: Mapping[str, Any], plan: Mapping[str, Any]) -> None:
    """Refuse to resume when the saved run measured something else."""
    if saved["config_fingerprint"] == _fingerprint(plan):
        return
    before = saved["plan"]
    differences = [f"{key}: {before.get(key)!r} in the saved run, {plan.get(key)!r} now"
                   for key in sorted(set(before) | set(plan)) if before.get(key) != plan.get(key)]
    raise ResumeError(
        f"Cannot resume the run in {out}: its config differs from this one.\n  - " + "\n  - ".join(differences)
        + "\nResume with the same settings (or with none: a resumed run reuses its saved ones), "
        "or start a new run with another --out folder."
    )


def _messages(prompt_set: PromptSet, prompt: Prompt) -> list[dict[str, str]]:
    system = [{"role": "system", "content": prompt_set.system}] if prompt_set.system else []
    return system + [{"role": "user", "content": prompt.text}]


def _failed_before_sending(exc: Exception, stream: bool) -> TrialTiming:
    """A trial whose request could not even be set up (e.g. the model vanished): recorded, not raised."""
    return TrialTiming(start=time.perf_counter(), e2e_s=0.0, ttft_s=None, error=error_text(exc),
                       streamed=stream)


@dataclass
class _Session:
    """One session of a run (the first, or a resume): writes records, skips what earlier sessions finished."""

    config: BenchConfig
    prompt_set: PromptSet
    target: Backend
    log: ResultsLog
    number: int
    done: set[tuple[str, str, int, bool]]
    warmups_done: Counter[str]
    sweeps_done: set[tuple[str, int]]
    after_trial: Callable[[dict[str, Any]], None] | None
    bar: Any = None  # tqdm
    prompts: list[Prompt] = field(init=False)

    def __post_init__(self) -> None:
        self.prompts = list(self.prompt_set.prompts)

    def remaining(self, model: str) -> list[tuple[int, Prompt]]:
        """(round, prompt) of the measured trials still to run, round-major."""
        return [(round_, prompt) for round_ in range(self.config.rounds) for prompt in self.prompts
                if (model, prompt.id, round_, False) not in self.done]

    def sweep_levels(self, model: str) -> list[int]:
        return [level for level in self.config.sweep if (model, level) not in self.sweeps_done]

    def work(self, model: str) -> int:
        """Requests still to send for a model (warm-ups, trials, sweep), for the progress bar."""
        trials, levels = len(self.remaining(model)), self.sweep_levels(model)
        if not trials and not levels:
            return 0
        return self.config.warmup + trials + len(levels) * planned_trials(self.config.rounds, len(self.prompts))

    def run_model(self, name: str) -> None:
        """Look up, load, warm up, measure, sweep, unload one model; every outcome becomes a record."""
        work = self.work(name)
        if not work:
            return
        self.bar.set_description(name)
        try:
            runner = self.target.open(name)
        except ModelNotFoundError as exc:
            self._lookup_failed(name, "not_found", exc, work)
            return
        except Exception as exc:  # noqa: BLE001 - any lookup failure is this model's, the run goes on
            self._lookup_failed(name, "load_failed", exc, work)
            return
        elsewhere = isinstance(runner, OpenAIServerRunner) and not isinstance(self.target, EndpointBackend)
        memory = PeakRssSampler(None if elsewhere else self.target.memory_pid).start()
        load = CpuLoadSampler({os.getpid(), self.target.memory_pid}).start()
        loaded = False
        started = time.perf_counter()
        try:
            try:
                self.bar.set_postfix_str("loading")
                load_s = runner.load()
                loaded = True
            except ModelNotFoundError as exc:
                self._lookup_failed(name, "not_found", exc, work)
                return
            except ModelTooLargeError as exc:
                self._lookup_failed(name, "load_skipped", exc, work)
                return
            except Exception as exc:  # noqa: BLE001
                self._lookup_failed(name, "load_failed", exc, work)
                return
            self.log.append(ModelLoaded(
                session=self.number, time=_now(), model=name, model_id=runner.model_id, target=self.target.name,
                device=runner.device, device_note=runner.device_note, execution_provider=runner.execution_provider,
                context_length=runner.context_length, load_s=load_s, disk_mb=runner.disk_mb(), **runner.threads,
                weights_read_mb=runner.weights_read_mb(), ready_wait_s=runner.ready_wait_s,
            ))
            if runner.device_note:  # e.g. GPU asked for and not available: said where the run was started
                self.bar.write(f"{name}: {runner.device_note}")
            self._measure(name, runner)
        finally:
            unload_error = self._unload(runner) if loaded else None
            memory.stop()
            load.stop()
            if loaded:
                duration_s = time.perf_counter() - started
                done = dict(session=self.number, time=_now(), model=name, peak_rss_mb=memory.peak_mb,
                            rss_before_mb=memory.before_mb,
                            memory_note=EXTERNAL_MEMORY_NOTE if elsewhere else self.target.memory_note,
                            duration_s=duration_s, unload_error=unload_error, cpu_busy_pct=load.cpu_busy_pct,
                            other_cpu_pct=load.other_cpu_pct, loadavg_1m=load.loadavg_1m)
                # the isolated probe's peak, when there is one, is the model's peak_rss_mb
                self.log.append(ModelDoneRecord(**done | self._isolated_memory(name, runner, elsewhere, memory)))

    def _isolated_memory(self, name: str, runner: Runner, elsewhere: bool,
                         memory: PeakRssSampler) -> dict[str, Any]:
        """A model of this process measured again in a fresh process (`bench.memory_probe`), so its peak does not
        carry what ran before it: `peak_rss_mb` is the probe's, this process's own sample `process_peak_rss_mb`."""
        process = {"process_peak_rss_mb": memory.peak_mb, "memory_method": "process" if memory.peak_mb else None}
        in_this_process = not elsewhere and self.target.memory_pid == os.getpid() and isinstance(runner, InprocessRunner)
        if not (self.config.memory_probe and in_this_process):
            return process
        self.bar.set_description(f"{name} memory (fresh process)")
        try:
            probe = memory_probe.probe_model_memory(runner.model_id, self.config.device)
        except memory_probe.MemoryProbeError as exc:
            self.bar.write(str(exc))
            return process | {"memory_probe_error": str(exc)}
        return process | {"peak_rss_mb": probe.peak_mb, "model_rss_mb": probe.model_mb,
                          "rss_baseline_mb": probe.baseline_mb, "memory_method": "isolated"}

    def _measure(self, name: str, runner: Runner) -> None:
        first_warmup = self.warmups_done[name]
        for index in range(first_warmup, first_warmup + self.config.warmup):
            self._trial(name, runner, self.prompts[index % len(self.prompts)], index, warmup=True)
        for round_, prompt in self.remaining(name):
            self._trial(name, runner, prompt, round_, warmup=False)
        for level in self.sweep_levels(name):
            self._sweep_level(name, runner, level)

    def _prefix(self, kind: str, round_: int, prompt: Prompt) -> str:
        return prompt_cache.request_prefix(self.config.prompt_cache, round_, self.prompts.index(prompt), kind)

    def _chat(self, runner: Runner, prompt: Prompt, prefix: str) -> TrialTiming:
        messages = prompt_cache.with_prefix(_messages(self.prompt_set, prompt), prefix)
        try:
            return timed_chat(runner, messages, self.config.generation)
        except Exception as exc:  # noqa: BLE001 - a trial failure, recorded like any other
            return _failed_before_sending(exc, self.config.stream)

    def _trial(self, name: str, runner: Runner, prompt: Prompt, round_: int, warmup: bool) -> None:
        prefix = self._prefix("w" if warmup else "r", round_, prompt)
        self.bar.set_postfix_str(f"{'warm-up' if warmup else f'round {round_ + 1}'}: {prompt.id}")
        timing = self._chat(runner, prompt, prefix)
        record = self.log.append(TrialRecord(
            session=self.number, time=_now(), model=name, model_id=runner.model_id, target=self.target.name,
            prompt_id=prompt.id, round=round_, warmup=warmup, prompt_prefix=prefix, **timing.to_record()))
        self.done.add(trial_key(record))
        self.bar.update(1)
        if self.after_trial:
            self.after_trial(record)

    def _sweep_level(self, name: str, runner: Runner, concurrency: int) -> None:
        """`concurrency` clients share the prompts × rounds requests until done or the level's time is up."""
        self.bar.set_description(f"{name} sweep c={concurrency}")
        planned = [(round_, prompt) for round_ in range(self.config.rounds) for prompt in self.prompts]
        queue, lock, stop = iter(planned), threading.Lock(), threading.Event()
        finished: list[tuple[str, TrialTiming]] = []
        deadline = time.perf_counter() + self.config.sweep_max_s
        stopped_by = "count"

        def client() -> None:
            nonlocal stopped_by
            while not stop.is_set():
                with lock:
                    if time.perf_counter() >= deadline:
                        stopped_by = "time"
                        return
                    round_, prompt = next(queue, (0, None))
                if prompt is None:
                    return
                timing = self._chat(runner, prompt, self._prefix(f"c{concurrency}r", round_, prompt))
                with lock:
                    finished.append((prompt.id, timing))
                    self.bar.update(1)

        pool = ThreadPoolExecutor(concurrency, thread_name_prefix="sweep")
        try:
            for future in [pool.submit(client) for _ in range(concurrency)]:
                future.result()
        finally:
            stop.set()
            pool.shutdown(wait=True)
        self.bar.update(len(planned) - len(finished))
        first = min((timing.start for _, timing in finished), default=0.0)
        self.log.append(SweepLevelRecord(
            session=self.number, time=_now(), model=name, model_id=runner.model_id, concurrency=concurrency,
            planned=len(planned), max_s=self.config.sweep_max_s, stopped_by=stopped_by,
            wall_s=max((timing.end for _, timing in finished), default=first) - first,
            requests=[SweepRequest(prompt_id=prompt_id, start_s=timing.start - first, ok=timing.ok,
                                   e2e_ms=timing.e2e_ms, ttft_ms=timing.ttft_ms, output_tokens=timing.output_tokens,
                                   finish_reason=timing.finish_reason, error=timing.error)
                      for prompt_id, timing in sorted(finished, key=lambda item: item[1].start)],
        ))
        self.sweeps_done.add((name, concurrency))

    def _unload(self, runner: Runner) -> str | None:
        self.bar.set_postfix_str("unloading")
        try:
            runner.unload()
            return None
        except Exception as exc:  # noqa: BLE001 - reported in the record; the next model still runs
            return error_text(exc)

    def _lookup_failed(self, name: str, status: str, exc: Exception, work: int) -> None:
        self.log.append(ModelLookupFailed(session=self.number, time=_now(), model=name, status=status,
                                          target=self.target.name, error=error_text(exc)[:1000]))
        self.bar.update(work)


def _header(config: BenchConfig, plan: dict[str, Any], prompt_name: str, prompt_set: PromptSet,
            target: Backend, session: int) -> HeaderRecord:
    return HeaderRecord(
        session=session, created=_now(), kit_version=kit_version(), versions=versions(), system=system_info(),
        config=asdict(config), plan=plan, config_fingerprint=_fingerprint(plan),
        prompt_set=PromptSetInfo(name=prompt_name, fingerprint=prompt_set.fingerprint(),
                                 prompt_ids=[p.id for p in prompt_set.prompts], system=prompt_set.system),
        target=TargetInfo(name=target.name, description=target.description, memory_note=target.memory_note),
        rss_interval_s=RSS_INTERVAL_S, threads=thread_settings(config), bandwidth=_bandwidth(), load=machine_load(),
    )


def _bandwidth() -> dict[str, Any]:
    """This machine's memory bandwidth (`roofline.machine_bandwidth`: measured once per machine, then cached);
    the error instead when it cannot be measured, so a run never fails for it."""
    try:
        return roofline.machine_bandwidth()
    except Exception as exc:  # noqa: BLE001 - the roofline columns stay empty, the run goes on
        return {"error": error_text(exc)}


def run_benchmark(
    config: BenchConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    after_trial: Callable[[dict[str, Any]], None] | None = None,
    **settings: Any,
) -> BenchmarkRun:
    """Run (or, with resume=True, continue) a benchmark; returns the run read back with its summaries.

    Give a BenchConfig, or settings by keyword (`models=["a", "b"], rounds=3, target="http", ...`; see
    BenchConfig), which BENCH_* environment variables fill where not given. Outputs go to `out_dir` (default
    reports/latest): results.jsonl as it happens, then summary.csv, summary.json, benchmark_report.md, also when
    the run is interrupted. `after_trial(record)` is called after each trial record is safely on disk.
    Raises ConfigError for bad settings and ResumeError when a resumed run's config differs.
    """
    out = Path(out_dir) if out_dir else DEFAULT_RUN_DIR
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out}: is a file, not a folder. Give a folder for the run's files (created when "
                             "missing).")
    previous = read_records(out) if resume else []
    saved = next((r for r in previous if r["type"] == "header"), None)
    if resume and saved is None:
        raise RunFolderError(f"{out / RESULTS_FILE}: no header record, nothing to resume; start a new run instead.")
    if config is None:
        config = resolve_config(settings, saved["config"] if saved else None)
    elif settings:
        raise TypeError("give either a BenchConfig or settings by keyword, not both")
    prompt_name, prompt_set = resolve_prompt_set(config.prompts)
    plan = config.plan(prompt_set)
    if saved:
        _check_resumable(out, saved, plan)
    elif (out / RESULTS_FILE).exists():
        (out / RESULTS_FILE).replace(out / "results.prev.jsonl")
        print(f"Started a new run in {out}; the previous results log is kept as results.prev.jsonl.")
    target = make_target(config)
    trials = [r for r in previous if r["type"] == "trial"]
    with ResultsLog(out / RESULTS_FILE) as log:
        session = _Session(
            config, prompt_set, target, log,
            number=sum(r["type"] == "header" for r in previous) + 1,
            done={trial_key(r) for r in trials},
            warmups_done=Counter(r["model"] for r in trials if r["warmup"]),
            sweeps_done={(r["model"], r["concurrency"]) for r in previous if r["type"] == "sweep_level"},
            after_trial=after_trial,
        )
        log.append(_header(config, plan, prompt_name, prompt_set, target, session.number))
        total = sum(session.work(name) for name in config.models)
        try:
            with tqdm(total=total, unit="req", disable=not progress) as session.bar:
                for name in config.models:
                    session.run_model(name)
        except BaseException:
            _write_partial_report(out)
            raise
    run = load_run(out)
    write_run_files(run)
    return run


def _write_partial_report(out: Path) -> None:
    """After an interruption or crash: report what finished, and say how to continue."""
    try:
        write_run_files(load_run(out))
        print(f"\nRun interrupted: every finished trial is in {out / RESULTS_FILE} and the report covers them. "
              f"Continue with `python -m helpers bench --resume --out {out}`.", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - never hide the original error behind a report problem
        print(f"\nRun interrupted; the partial report could not be written ({exc}). "
              f"Finished trials are in {out / RESULTS_FILE}.", file=sys.stderr)

