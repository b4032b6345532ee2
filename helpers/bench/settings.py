"""Benchmark settings: what defines a run, where each setting comes from, and how it is validated.

`BenchConfig` is a frozen pydantic dataclass (so `dataclasses.replace` and `asdict` work on it): every setting has
a type and bounds, and every problem is reported at once, naming the setting with its flag and environment
variable, in the style of the config files' errors (`helpers.core.config`). `resolve_config` layers explicit settings
over BENCH_* environment variables over a resumed run's saved config over the defaults.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ..core.config import ConfigError, PromptSet
from ..core.devices import DEVICES
from ..core.lists import comma_list
from ..measure.prompt_cache import COLD, request_fields
from ..measure.prompt_cache import MODES as PROMPT_CACHE_MODES
from ..serve import endpoints, registry

TARGETS = ("inprocess", "http")
ENV_MODELS, ENV_ROUNDS, ENV_STREAM, ENV_MAX_TOKENS = "BENCH_MODELS", "BENCH_ROUNDS", "BENCH_STREAM", "BENCH_MAX_TOKENS"
SOURCES = {  # where each setting can be given, for error messages
    "models": f"--models / {ENV_MODELS}", "prompts": "--prompts", "rounds": f"--rounds / {ENV_ROUNDS}",
    "warmup": "--warmup", "max_tokens": f"--max-tokens / {ENV_MAX_TOKENS}", "temperature": "--temperature",
    "seed": "--seed", "stream": f"--stream / {ENV_STREAM}", "target": "--target",
    "endpoint": f"--endpoint / {endpoints.ENDPOINT_ENV}", "device": "--device", "sweep": "--sweep",
    "sweep_max_s": "--sweep-max-s", "server_pid": "--server-pid", "request_timeout_s": "request_timeout_s",
    "prompt_cache": "--prompt-cache", "threads": "--threads",
}
_UNPLANNED = ("prompts", "server_pid", "request_timeout_s")  # may differ on resume: they do not change what is measured


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class _Settings:
    models: tuple[str, ...]
    prompts: str | None = None  # prompt set name in prompts.json, or a .json file holding one set; None: default set
    rounds: int = Field(3, ge=1)
    warmup: int = Field(1, ge=0)
    max_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.0, ge=0)
    seed: int | None = 42
    stream: bool = True
    target: Literal[TARGETS] = "inprocess"
    endpoint: str | None = None  # external OpenAI-compatible server (http target); None: the built-in web service
    device: Literal[DEVICES] = "auto"
    sweep: tuple[Annotated[int, Field(ge=1)], ...] = ()  # concurrency levels of the load sweep (http target)
    sweep_max_s: float = Field(60.0, gt=0)  # time bound of one sweep level
    server_pid: int | None = None  # process of an external server, to sample its memory
    request_timeout_s: float = Field(300.0, gt=0)
    prompt_cache: Literal[PROMPT_CACHE_MODES] = COLD  # cold: TTFT of a cold prefill on every engine
    threads: int | None = Field(None, ge=1)  # decode threads of the kit's own models for this run; None: each build's

    @field_validator("models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        return tuple(comma_list(value)) if isinstance(value, (str, list, tuple)) else value

    @field_validator("models")
    @classmethod
    def _some_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("is empty: name at least one model")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_root(cls, value: str | None) -> str | None:
        if value and not endpoints.is_server_url(value):
            raise ValueError(endpoints.NOT_A_SERVER_URL)
        return endpoints.endpoint_root(value) if value else None

    @model_validator(mode="after")
    def _http_only(self) -> _Settings:
        problems = [(bool(self.endpoint), "endpoint (--endpoint) needs --target http"),
                    (bool(self.sweep), "sweep (--sweep) needs --target http: it measures a server")]
        errors = [message for present, message in problems if present and self.target != "http"]
        if self.threads is not None and self.endpoint:
            errors.append("threads (--threads) sets the kit's own models (in-process or its built-in web service); "
                          "a server at --endpoint runs on the threads it was started with")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class BenchConfig(_Settings):
    """Everything that defines a run. Validated on creation: raises ConfigError listing every bad setting with its
    flag and environment variable. `models` also takes a comma list.

    Fields (units in the names): models, prompts, rounds (>= 1), warmup (>= 0), max_tokens (>= 1), temperature,
    seed, stream, target (`inprocess` | `http`), endpoint, device (`cpu` | `gpu` | `auto`), sweep (concurrency
    levels, http target), sweep_max_s, server_pid, request_timeout_s, prompt_cache (`cold` | `warm`, see
    `helpers.measure.prompt_cache`), threads (decode threads of the models the kit built or converted, for this run only;
    None: each build's own setting, `helpers.build.threads`).
    """

    def __init__(self, *args: Any, **settings: Any) -> None:
        try:
            super().__init__(*args, **settings)
        except ValidationError as exc:
            raise _explain(exc) from None

    def plan(self, prompt_set: PromptSet) -> dict[str, Any]:
        """What a resumed run must share with the original: the settings and the prompt set's content."""
        settings = {k: v for k, v in asdict(self).items() if k not in _UNPLANNED}
        return json.loads(json.dumps(settings | {"prompt_set_fingerprint": prompt_set.fingerprint()}))

    @property
    def generation(self) -> Generation:
        return Generation(self.max_tokens, self.temperature, self.seed, self.stream,
                          request_fields(self.prompt_cache))


def _explain(exc: ValidationError) -> ConfigError:
    """Every problem on its own line, naming the setting, its flag / variable and the value given."""
    lines = [f"Invalid benchmark settings: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        where = f"{name} ({SOURCES[name]})" if name in SOURCES else name or "(settings)"
        given = f", got {err['input']!r}" if name and err["type"] != "missing" else ""
        lines.append(f"  - {where}: {err['msg'].removeprefix('Value error, ')}{given}")
    lines.append("Fix the named setting(s): a flag of `python -m helpers bench`, a BENCH_* environment variable, "
                 "or a keyword of run_benchmark.")
    return ConfigError("\n".join(lines))


@dataclass(frozen=True)
class Generation:
    """The request parameters of every trial."""

    max_tokens: int
    temperature: float
    seed: int | None
    stream: bool
    extra: Mapping[str, object] = field(default_factory=dict)  # request-body fields for HTTP (cache_prompt)


def parse_levels(text: str) -> tuple[int, ...]:
    """`"1,2,4"` -> (1, 2, 4), for --sweep."""
    try:
        return tuple(int(part) for part in comma_list(text))
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
        "models": (ENV_MODELS, lambda name: comma_list(os.environ[name])),
        "rounds": (ENV_ROUNDS, _env_int),
        "max_tokens": (ENV_MAX_TOKENS, _env_int),
        "stream": (ENV_STREAM, _env_bool),
    }
    found = {key: read(name) for key, (name, read) in readers.items() if os.environ.get(name, "").strip()}
    if endpoints.external_endpoint():
        found["endpoint"] = endpoints.external_endpoint()
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
    if not chosen.get("models") and "models" not in explicit:  # `--models ""` given: an error, not the defaults
        chosen["models"] = registry.default_models()
    unknown = sorted(set(chosen) - set(SOURCES))
    if unknown:
        raise ConfigError(f"unknown benchmark setting(s) {unknown}; known: {sorted(SOURCES)}")
    return BenchConfig(**chosen)
