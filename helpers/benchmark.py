"""The benchmark protocol: models × prompts × rounds on one target, every trial logged the moment it completes.

Per model: look it up (unknown -> `not_found`), cold-load it (`load_s`; failure -> `load_failed`), send `warmup`
requests (recorded with `warmup: true`, excluded from statistics), then `rounds` rounds over the prompt set
(round-major: every prompt once per round) with temperature 0, a fixed seed and a fixed max_tokens by default. One
request per trial, never a retry inside a timed region: a failed trial is recorded and the next trial is a new
one. Then an optional load sweep (HTTP target), and the model is unloaded so models never share memory. A sampler
thread records the peak RSS of the serving process from before the load to the end of the model's run.

Every record goes to `<out>/results.jsonl` at once (flush + fsync): a crash or Ctrl-C keeps every finished trial,
and `resume=True` continues in the same folder without redoing any, provided the config is the same.
`helpers.report` turns the log into `summary.csv`, `summary.json` and `benchmark_report.md`.

Targets sit behind two small protocols, `Target` and `ModelRunner`, so other engines can be added. A models.json
entry with `"source": "endpoint"` and an `endpoint` URL is always reached over HTTP (`EndpointModel`), so such
models (Ollama, vLLM, a llama.cpp server, Azure AI Foundry, another Foundry Local) run side by side with
in-process ones; its models.json name must be the id (or alias) the server lists.

Adding an engine that is not OpenAI-compatible: write a `ModelRunner` (load -> seconds, chat -> `TrialTiming`
filled through `timing._TrialRecorder`, unload, disk_mb) and a `Target` whose `open(name)` returns it, then
return that target from `make_target` for a new `target` name (add it to `TARGETS`). The protocol, records,
statistics and reports need no change.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psutil
from tqdm.auto import tqdm

from . import __version__, runtime
from .config import ConfigError, Prompt, PromptSet, resolve_prompt_set
from .devices import DEVICES, DeviceChoice
from .paths import REPO_ROOT
from .preflight import versions
from .report import RESULTS_FILE, BenchmarkRun, ResultsLog, RunFolderError, console_table, load_run, read_records, trial_key
from .timing import ChatMessages, TrialTiming, time_inprocess_chat, time_openai_chat

if TYPE_CHECKING:
    from foundry_local_sdk import IModel
    from openai import OpenAI

DEFAULT_OUT = REPO_ROOT / "reports" / "latest"
TARGETS = ("inprocess", "http")
RSS_INTERVAL_S = 0.05
ENV_MODELS, ENV_ROUNDS, ENV_STREAM, ENV_MAX_TOKENS = "BENCH_MODELS", "BENCH_ROUNDS", "BENCH_STREAM", "BENCH_MAX_TOKENS"
EXTERNAL_MEMORY_NOTE = ("memory of an external server is not observable from this process: "
                        "pass --server-pid PID (the server's process id) to sample it")
_UNPLANNED = ("prompts", "server_pid", "request_timeout_s")  # may differ on resume: they do not change what is measured


class ResumeError(ConfigError):
    """A run folder cannot be resumed with this config."""


# --- configuration ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchConfig:
    """Everything that defines a run. Validated on creation; errors name the field, flag and variable."""

    models: tuple[str, ...]
    prompts: str | None = None  # prompt set name in prompts.json, or a .json file holding one set; None: default set
    rounds: int = 3
    warmup: int = 1
    max_tokens: int = 64
    temperature: float = 0.0
    seed: int | None = 42
    stream: bool = True
    target: str = "inprocess"
    endpoint: str | None = None  # external OpenAI-compatible server (http target); None: the built-in web service
    device: str = "auto"
    sweep: tuple[int, ...] = ()  # concurrency levels of the load sweep (http target)
    sweep_max_s: float = 60.0  # time bound of one sweep level
    server_pid: int | None = None  # process of an external server, to sample its memory
    request_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(_split(self.models)))
        object.__setattr__(self, "sweep", tuple(int(level) for level in self.sweep))
        if self.endpoint:
            object.__setattr__(self, "endpoint", runtime.endpoint_root(self.endpoint))
        problems = [
            (not self.models, f"models (--models / {ENV_MODELS}) is empty: name at least one model"),
            (self.rounds < 1, f"rounds (--rounds / {ENV_ROUNDS}) must be at least 1, got {self.rounds}"),
            (self.warmup < 0, f"warmup (--warmup) must be 0 or more, got {self.warmup}"),
            (self.max_tokens < 1, f"max_tokens (--max-tokens / {ENV_MAX_TOKENS}) must be at least 1, got {self.max_tokens}"),
            (self.target not in TARGETS, f"target (--target) must be one of {TARGETS}, got {self.target!r}"),
            (self.device not in DEVICES, f"device (--device) must be one of {DEVICES}, got {self.device!r}"),
            (bool(self.endpoint) and self.target != "http", "endpoint (--endpoint) needs --target http"),
            (bool(self.sweep) and self.target != "http", "sweep (--sweep) needs --target http: it measures a server"),
            (any(level < 1 for level in self.sweep), f"sweep levels must be at least 1, got {list(self.sweep)}"),
            (self.sweep_max_s <= 0, f"sweep_max_s (--sweep-max-s) must be positive, got {self.sweep_max_s}"),
        ]
        errors = [message for failed, message in problems if failed]
        if errors:
            raise ConfigError("Invalid benchmark settings:\n  - " + "\n  - ".join(errors))

    def plan(self, prompt_set: PromptSet) -> dict[str, Any]:
        """What a resumed run must share with the original: the settings and the prompt set's content."""
        settings = {k: v for k, v in asdict(self).items() if k not in _UNPLANNED}
        return json.loads(json.dumps(settings | {"prompt_set_fingerprint": prompt_set.fingerprint()}))

    @property
    def generation(self) -> "Generation":
        return Generation(self.max_tokens, self.temperature, self.seed, self.stream)


@dataclass(frozen=True)
class Generation:
    """The request parameters of every trial."""

    max_tokens: int
    temperature: float
    seed: int | None
    stream: bool


def _split(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]


def parse_levels(text: str) -> tuple[int, ...]:
    """`"1,2,4"` -> (1, 2, 4), for --sweep."""
    try:
        return tuple(int(part) for part in _split(text))
    except ValueError:
        raise ConfigError(f"--sweep takes a comma list of concurrency levels such as 1,2,4, got {text!r}") from None


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a whole number, got {os.environ[name]!r}") from None


def _env_bool(name: str) -> bool:
    value = os.environ[name].strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"environment variable {name} must be 1 or 0, got {os.environ[name]!r}")
    return value in ("1", "true", "yes")


def settings_from_env() -> dict[str, Any]:
    """BENCH_MODELS, BENCH_ROUNDS, BENCH_STREAM, BENCH_MAX_TOKENS and FOUNDRY_LOCAL_ENDPOINT, where set."""
    readers: dict[str, tuple[str, Callable[[str], Any]]] = {
        "models": (ENV_MODELS, lambda name: _split(os.environ[name])),
        "rounds": (ENV_ROUNDS, _env_int),
        "max_tokens": (ENV_MAX_TOKENS, _env_int),
        "stream": (ENV_STREAM, _env_bool),
    }
    found = {key: read(name) for key, (name, read) in readers.items() if os.environ.get(name, "").strip()}
    if runtime.external_endpoint():
        found["endpoint"] = runtime.external_endpoint()
    return found


def resolve_config(settings: Mapping[str, Any] | None = None, saved: Mapping[str, Any] | None = None) -> BenchConfig:
    """Explicit settings (None = not given) over environment variables over a resumed run's saved config over defaults.

    The target defaults to `http` when an endpoint is configured; an endpoint from the environment is ignored by
    the in-process target.
    """
    explicit = {k: v for k, v in (settings or {}).items() if v is not None}
    chosen = {**(saved or {}), **settings_from_env(), **explicit}
    if "target" not in chosen:
        chosen["target"] = "http" if chosen.get("endpoint") else "inprocess"
    elif chosen["target"] == "inprocess" and "endpoint" not in explicit:
        chosen["endpoint"] = None
    if not chosen.get("models"):
        chosen["models"] = runtime.default_models()
    unknown = sorted(set(chosen) - set(BenchConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown benchmark setting(s) {unknown}; known: {sorted(BenchConfig.__dataclass_fields__)}")
    return BenchConfig(**chosen)


# --- targets ------------------------------------------------------------------------------------------------------

class ModelRunner(Protocol):
    """One model on one target: everything the protocol asks of an engine."""

    model_id: str  # the id requests use (for HTTP: as the server lists it)
    device: str | None
    execution_provider: str | None
    context_length: int | None
    device_note: str  # why the device differs from the one asked for ("" when it does not)

    def load(self) -> float | None:
        """Cold-load; seconds taken, None when the target cannot tell. Raises ModelNotFoundError or any error."""

    def unload(self) -> None: ...

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        """One timed request; request failures are returned in `error`, not raised."""

    def disk_mb(self) -> float | None: ...


class Target(Protocol):
    """Where requests go: finds models and says whose memory to watch."""

    name: str  # "inprocess" | "http"
    description: str
    memory_pid: int | None  # process whose RSS to sample, None when not observable
    memory_note: str | None  # why memory is not observable, or what it covers

    def open(self, model: str) -> ModelRunner:
        """The runner for a model name; raises runtime.ModelNotFoundError for an unknown name."""


class LocalModel:
    """A Foundry Local model in this process, timed through the SDK (fresh ChatSession per trial)."""

    def __init__(self, model: "IModel", choice: DeviceChoice, rt: runtime.LabRuntime) -> None:
        self.model, self._rt = model, rt
        self.model_id = model.id
        self.device, self.device_note = choice.device, choice.message
        bundled = rt.bundled.get(model.id.split(":")[0])
        info_runtime = model.info.runtime
        self.execution_provider = (info_runtime.execution_provider if info_runtime else None) or (
            bundled.catalog.execution_provider if bundled else None)
        self.context_length = bundled.context_length if bundled else model.info.context_length

    def load(self) -> float | None:
        runtime.unload(self.model)  # loaded earlier (a notebook cell, another tool): measure a cold load anyway
        return runtime.load(self.model)

    def unload(self) -> None:
        runtime.unload(self.model)

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return time_inprocess_chat(self.model, messages, max_tokens=generation.max_tokens,
                                   temperature=generation.temperature, seed=generation.seed, stream=generation.stream)

    def disk_mb(self) -> float | None:
        return runtime.disk_mb(runtime.model_dir(self.model, self._rt))


class LocalModelOverHttp(LocalModel):
    """A model loaded in this process, timed through the kit's built-in web service (which shares the load)."""

    def __init__(self, model: "IModel", choice: DeviceChoice, rt: runtime.LabRuntime, client: "OpenAI") -> None:
        super().__init__(model, choice, rt)
        self._client = client

    def load(self) -> float | None:
        seconds = super().load()
        self.model_id = runtime.http_model_id(self.model.id, self._client)
        return seconds

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return _openai_trial(self._client, self.model_id, messages, generation)


class EndpointModel:
    """A model behind an external OpenAI-compatible server; the name is passed through as given."""

    device = execution_provider = context_length = None
    device_note = ""

    def __init__(self, name: str, base_url: str, client: "OpenAI") -> None:
        self.name, self.model_id, self._base_url, self._client = name, name, base_url, client

    def load(self) -> float | None:
        seconds = runtime.http_load(self._base_url, self.name)  # None: a plain server without a load route
        listed = [m.id for m in self._client.models.list()]
        self.model_id = runtime.http_model_id(self.name, self._client)
        if listed and self.model_id not in listed:
            raise runtime.ModelNotFoundError(
                f"{self._base_url} lists no model '{self.name}' (it lists {', '.join(listed[:10])}): "
                "pass one of those ids (or its alias) with --models.")
        return seconds

    def unload(self) -> None:
        runtime.http_unload(self._base_url, self.name)

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return _openai_trial(self._client, self.model_id, messages, generation)

    def disk_mb(self) -> float | None:
        return None


def _openai_trial(client: "OpenAI", model_id: str, messages: ChatMessages, generation: Generation) -> TrialTiming:
    return time_openai_chat(client, model_id, messages, max_tokens=generation.max_tokens,
                            temperature=generation.temperature, seed=generation.seed, stream=generation.stream)


class InprocessTarget:
    """Foundry Local in this Python process (foundry-local-sdk)."""

    name = "inprocess"

    def __init__(self, device: str) -> None:
        self._rt = runtime.start()
        self._device = device
        self.memory_pid: int | None = os.getpid()
        self.memory_note: str | None = None
        world = "offline, bundled models" if self._rt.offline else "online"
        self.description = f"Foundry Local SDK in this process ({world})"

    def open(self, model: str) -> ModelRunner:
        return configured_endpoint(model) or LocalModel(*runtime.get_model(model, self._device, self._rt), self._rt)


class BuiltinHttpTarget(InprocessTarget):
    """The kit's built-in OpenAI-compatible web service; models are loaded in this process, which serves them."""

    name = "http"

    def __init__(self, device: str, timeout_s: float) -> None:
        super().__init__(device)
        self.url = runtime.web_service_url(self._rt)
        self._client = runtime.openai_client(self.url, timeout_s)
        self.description = f"built-in web service {self.url} (in this process)"

    def open(self, model: str) -> ModelRunner:
        return configured_endpoint(model) or LocalModelOverHttp(*runtime.get_model(model, self._device, self._rt),
                                                                self._rt, self._client)


class EndpointTarget:
    """Any OpenAI-compatible server (another Foundry Local service, llama.cpp, Ollama, ...)."""

    name = "http"

    def __init__(self, url: str, server_pid: int | None, timeout_s: float) -> None:
        if server_pid is not None and not psutil.pid_exists(server_pid):
            raise ConfigError(f"--server-pid {server_pid}: no such process; give the pid of the server at {url}.")
        self.url = url
        self._client = runtime.openai_client(url, timeout_s)
        self.memory_pid = server_pid
        self.memory_note = None if server_pid else EXTERNAL_MEMORY_NOTE
        self.description = f"external endpoint {url}" + (f" (server pid {server_pid})" if server_pid else "")

    def open(self, model: str) -> ModelRunner:
        return EndpointModel(model, self.url, self._client)


def configured_endpoint(model: str, timeout_s: float = 300.0) -> EndpointModel | None:
    """The runner of a models.json entry with `"source": "endpoint"` (reached at its `endpoint`), else None."""
    from .config import load_models

    entry = load_models().models.get(model)
    if entry is None or entry.source != "endpoint":
        return None
    url = runtime.endpoint_root(entry.endpoint)
    return EndpointModel(model, url, runtime.openai_client(url, timeout_s))


def make_target(config: BenchConfig) -> Target:
    """The target a config asks for."""
    if config.target == "inprocess":
        return InprocessTarget(config.device)
    if config.endpoint:
        return EndpointTarget(config.endpoint, config.server_pid, config.request_timeout_s)
    return BuiltinHttpTarget(config.device, config.request_timeout_s)


# --- memory -------------------------------------------------------------------------------------------------------

class PeakRssSampler:
    """Samples one process's resident set size in a background thread: `before_mb` and `peak_mb` (MB = 10^6 bytes).

    With pid None nothing is sampled and both stay None.
    """

    def __init__(self, pid: int | None, interval_s: float = RSS_INTERVAL_S) -> None:
        self._process = psutil.Process(pid) if pid is not None else None
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.before_mb: float | None = None
        self.peak_mb: float | None = None

    def _sample(self) -> None:
        rss_mb = self._process.memory_info().rss / 1e6
        self.peak_mb = rss_mb if self.peak_mb is None else max(self.peak_mb, rss_mb)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._sample()
            except psutil.Error:  # the process went away; keep what was seen
                return

    def start(self) -> "PeakRssSampler":
        if self._process is not None:
            self._sample()
            self.before_mb = self.peak_mb
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            try:
                self._sample()
            except psutil.Error:
                pass


# --- the run ------------------------------------------------------------------------------------------------------

def system_info() -> dict[str, Any]:
    """OS, CPU model, cores and memory of this machine."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "os": platform.platform(),
        "cpu": cpu or platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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
    return TrialTiming(start=time.perf_counter(), e2e_s=0.0, ttft_s=None, error=f"{type(exc).__name__}: {exc}",
                       streamed=stream)


@dataclass
class _Session:
    """One session of a run (the first, or a resume): writes records, skips what earlier sessions finished."""

    config: BenchConfig
    prompt_set: PromptSet
    target: Target
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
        return self.config.warmup + trials + len(levels) * self.config.rounds * len(self.prompts)

    def run_model(self, name: str) -> None:
        """Look up, load, warm up, measure, sweep, unload one model; every outcome becomes a record."""
        work = self.work(name)
        if not work:
            return
        self.bar.set_description(name)
        try:
            runner = self.target.open(name)
        except runtime.ModelNotFoundError as exc:
            self._lookup_failed(name, "not_found", exc, work)
            return
        except Exception as exc:  # noqa: BLE001 - any lookup failure is this model's, the run goes on
            self._lookup_failed(name, "load_failed", exc, work)
            return
        elsewhere = isinstance(runner, EndpointModel) and not isinstance(self.target, EndpointTarget)
        memory = PeakRssSampler(None if elsewhere else self.target.memory_pid).start()
        loaded = False
        started = time.perf_counter()
        try:
            try:
                load_s = runner.load()
                loaded = True
            except runtime.ModelNotFoundError as exc:
                self._lookup_failed(name, "not_found", exc, work)
                return
            except Exception as exc:  # noqa: BLE001
                self._lookup_failed(name, "load_failed", exc, work)
                return
            self.log.append({
                "type": "model", "session": self.number, "time": _now(), "model": name, "status": "loaded",
                "model_id": runner.model_id, "target": self.target.name, "device": runner.device,
                "device_note": runner.device_note, "execution_provider": runner.execution_provider,
                "context_length": runner.context_length, "load_s": load_s, "disk_mb": runner.disk_mb(),
            })
            self._measure(name, runner)
        finally:
            unload_error = self._unload(runner) if loaded else None
            memory.stop()
            if loaded:
                self.log.append({
                    "type": "model_done", "session": self.number, "time": _now(), "model": name,
                    "peak_rss_mb": memory.peak_mb, "rss_before_mb": memory.before_mb,
                    "memory_note": EXTERNAL_MEMORY_NOTE if elsewhere else self.target.memory_note, "duration_s": time.perf_counter() - started,
                    "unload_error": unload_error,
                })

    def _measure(self, name: str, runner: ModelRunner) -> None:
        first_warmup = self.warmups_done[name]
        for index in range(first_warmup, first_warmup + self.config.warmup):
            self._trial(name, runner, self.prompts[index % len(self.prompts)], index, warmup=True)
        for round_, prompt in self.remaining(name):
            self._trial(name, runner, prompt, round_, warmup=False)
        for level in self.sweep_levels(name):
            self._sweep_level(name, runner, level)

    def _chat(self, runner: ModelRunner, prompt: Prompt) -> TrialTiming:
        try:
            return runner.chat(_messages(self.prompt_set, prompt), self.config.generation)
        except Exception as exc:  # noqa: BLE001 - a trial failure, recorded like any other
            return _failed_before_sending(exc, self.config.stream)

    def _trial(self, name: str, runner: ModelRunner, prompt: Prompt, round_: int, warmup: bool) -> None:
        timing = self._chat(runner, prompt)
        record = {"type": "trial", "session": self.number, "time": _now(), "model": name,
                  "model_id": runner.model_id, "target": self.target.name, "prompt_id": prompt.id,
                  "round": round_, "warmup": warmup, **timing.to_record()}
        self.log.append(record)
        self.done.add(trial_key(record))
        self.bar.update(1)
        if self.after_trial:
            self.after_trial(record)

    def _sweep_level(self, name: str, runner: ModelRunner, concurrency: int) -> None:
        """`concurrency` clients share the prompts × rounds requests until done or the level's time is up."""
        self.bar.set_description(f"{name} sweep c={concurrency}")
        planned = [prompt for _ in range(self.config.rounds) for prompt in self.prompts]
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
                    prompt = next(queue, None)
                if prompt is None:
                    return
                timing = self._chat(runner, prompt)
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
        self.log.append({
            "type": "sweep_level", "session": self.number, "time": _now(), "model": name,
            "model_id": runner.model_id, "concurrency": concurrency, "planned": len(planned),
            "max_s": self.config.sweep_max_s, "stopped_by": stopped_by,
            "wall_s": max((timing.end for _, timing in finished), default=first) - first,
            "requests": [{"prompt_id": prompt_id, "start_s": timing.start - first, "ok": timing.ok,
                          "e2e_ms": timing.e2e_ms, "ttft_ms": timing.ttft_ms, "output_tokens": timing.output_tokens,
                          "finish_reason": timing.finish_reason, "error": timing.error}
                         for prompt_id, timing in sorted(finished, key=lambda item: item[1].start)],
        })
        self.sweeps_done.add((name, concurrency))

    def _unload(self, runner: ModelRunner) -> str | None:
        try:
            runner.unload()
            return None
        except Exception as exc:  # noqa: BLE001 - reported in the record; the next model still runs
            return f"{type(exc).__name__}: {exc}"

    def _lookup_failed(self, name: str, status: str, exc: Exception, work: int) -> None:
        self.log.append({"type": "model", "session": self.number, "time": _now(), "model": name, "status": status,
                         "target": self.target.name, "error": f"{type(exc).__name__}: {exc}"[:1000]})
        self.bar.update(work)


def _header(config: BenchConfig, plan: dict[str, Any], prompt_name: str, prompt_set: PromptSet,
            target: Target, session: int) -> dict[str, Any]:
    return {
        "type": "header", "session": session, "created": _now(), "kit_version": __version__,
        "versions": versions(), "system": system_info(), "config": asdict(config), "plan": plan,
        "config_fingerprint": _fingerprint(plan),
        "prompt_set": {"name": prompt_name, "fingerprint": prompt_set.fingerprint(),
                       "prompt_ids": [p.id for p in prompt_set.prompts], "system": prompt_set.system},
        "target": {"name": target.name, "description": target.description, "memory_note": target.memory_note},
        "rss_interval_s": RSS_INTERVAL_S,
    }


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
    out = Path(out_dir) if out_dir else DEFAULT_OUT
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
    run.write()
    return run


def _write_partial_report(out: Path) -> None:
    """After an interruption or crash: report what finished, and say how to continue."""
    try:
        load_run(out).write()
        print(f"\nRun interrupted: every finished trial is in {out / RESULTS_FILE} and the report covers them. "
              f"Continue with `python -m helpers bench --resume --out {out}`.", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - never hide the original error behind a report problem
        print(f"\nRun interrupted; the partial report could not be written ({exc}). "
              f"Finished trials are in {out / RESULTS_FILE}.", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    """CLI entry (`python -m helpers bench`): 0 when any model produced a successful trial, 1 when none did,
    2 for bad settings, 130 when interrupted."""
    try:
        settings = {
            "models": args.models, "prompts": args.prompts, "rounds": args.rounds, "warmup": args.warmup,
            "max_tokens": args.max_tokens, "temperature": args.temperature, "seed": args.seed, "stream": args.stream,
            "target": args.target, "endpoint": args.endpoint, "device": args.device,
            "sweep": parse_levels(args.sweep) if args.sweep else None, "sweep_max_s": args.sweep_max_s,
            "server_pid": args.server_pid,
        }
        run = run_benchmark(out_dir=args.out, resume=args.resume, **settings)
    except (ConfigError, RunFolderError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print("\n" + console_table(run))
    print(f"\nReport: {run.out_dir / 'benchmark_report.md'} (summary.csv, summary.json, results.jsonl beside it)")
    return 0 if run.summary["n"].sum() > 0 else 1
