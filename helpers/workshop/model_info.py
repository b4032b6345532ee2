"""`model info MODEL`: what choosing a model needs, like `foundry model info` (CLI 0.10+).

One record per model (`ModelFacts`): context length (tokens), tool-calling support where it is known, size on disk
(MB = 10^6 bytes), license, parameters and size class, and its device variants (device + execution provider).
Sources, in order, each named in `sources`:

- a built folder (bundled or converted, no runtime started, works offline): `genai_config.json`
  (`search.max_length` = context length), the folder's files (size on disk), `kit_model.json` (license,
  device and execution provider as registered), the chat template in `tokenizer_config.json` (tool calling:
  `yes` when the template renders a `tools` list, the way Hugging Face chat templates declare tool use);
- the Foundry Local app's service (FOUNDRY_LOCAL_ENDPOINT): its catalog's variants;
- the public catalog when online (`ModelInfo.context_length`, `supports_tool_calling`, `file_size_mb`, variants);
- models.json (`license`, `params_b`, `size_mb` as the catalog states it, capability tag `tools`), always.

Unknown stays None (printed `–`), never guessed. `ModelNotFoundError` names the models that are known.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import READ_ENCODING, load_models, size_class
from ..serve import endpoints, registry, runtime
from ..serve.errors import ModelNotFoundError


@dataclass
class Variant:
    """One way to run the model: device (cpu / gpu / npu) and execution provider."""

    id: str
    device: str
    execution_provider: str
    size_mb: float | None = None
    cached: bool | None = None


@dataclass
class ModelFacts:
    """What `model info` shows; every unknown is None."""

    alias: str
    display_name: str | None = None
    source: str = "unknown"  # bundled | converted | catalog | service | endpoint
    license: str | None = None
    params_b: float | None = None
    size_class: str = "unknown"
    context_length: int | None = None
    tool_calling: bool | None = None
    disk_mb: float | None = None  # on disk when local, else the catalog's stated size
    disk_measured: bool = False  # True: summed from the files; False: as a catalog states it
    instruct: bool | None = None
    capabilities: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def template_supports_tools(folder: Path) -> bool | None:
    """Whether the model's chat template (tokenizer_config.json `chat_template`, or chat_template.jinja) renders a
    `tools` list; None when the folder has no template."""
    template = ""
    config = folder / "tokenizer_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding=READ_ENCODING)).get("chat_template") or ""
        template = value if isinstance(value, str) else json.dumps(value)
    if not template and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding=READ_ENCODING)
    return ("tools" in template) if template else None


def model_facts(name: str) -> ModelFacts:
    """Everything known about `name` (alias or id); raises ModelNotFoundError when nothing knows it."""
    bare = name.split(":")[0]
    entry = load_models().models.get(bare)
    facts = ModelFacts(alias=bare)
    if entry is not None:
        facts.display_name, facts.license, facts.params_b = entry.display_name, entry.license, entry.params_b
        facts.size_class, facts.instruct, facts.capabilities = entry.size_class, entry.instruct, list(entry.capabilities)
        facts.source, facts.disk_mb = entry.source, entry.size_mb
        facts.tool_calling = True if "tools" in entry.capabilities else None
        facts.sources.append("models.json")
    built = registry.find_bundled().get(bare)
    if built is not None:
        _from_folder(facts, built)
    elif (service := endpoints.app_service_endpoint()):
        _from_service(facts, service, name)
    elif entry is None or entry.source == "catalog":
        _from_catalog(facts, name, known=entry is not None)
    if not facts.sources:
        raise ModelNotFoundError(f"Model '{name}' is not known here: not built, not in models.json, not in a "
                                          "catalog the kit can reach. See `foundry-lab model list`.")
    return facts


def _from_folder(facts: ModelFacts, built: registry.BundledModel) -> None:
    facts.source = built.source
    facts.display_name = facts.display_name or built.catalog.display_name
    facts.license = built.catalog.license
    facts.context_length = built.context_length
    facts.disk_mb, facts.disk_measured = runtime.disk_mb(built.path), True
    in_template = template_supports_tools(built.path)
    facts.tool_calling = True if facts.tool_calling else in_template
    facts.variants = [Variant(built.catalog.model_id, built.catalog.device, built.catalog.execution_provider,
                              facts.disk_mb, True)]
    if facts.instruct is None:
        facts.instruct = built.meta.get("instruct")
    facts.sources.append(f"{built.path.name}/ (genai_config.json, kit_model.json, chat template)")


def _from_service(facts: ModelFacts, service: str, name: str) -> None:
    from ..serve import app_service

    found = app_service.variants(service, name)
    facts.source = "service"
    facts.license = found[0].license or facts.license
    facts.display_name = facts.display_name or found[0].display_name
    facts.variants = [Variant(m.id, m.device, m.execution_provider, m.size_mb, m.cached) for m in found]
    facts.disk_mb = next((m.size_mb for m in found if m.size_mb), facts.disk_mb)
    facts.sources.append(f"the Foundry Local service at {service}")


def _from_catalog(facts: ModelFacts, name: str, known: bool) -> None:
    """The public catalog's facts; offline, models.json's facts stand (and an unknown name stays unknown)."""
    rt = runtime.start(quiet=True)
    if rt.offline:
        if known:
            facts.sources.append("catalog unreachable (offline): variants unknown")
        return
    public = rt.manager.get_catalog()
    model = public.get_model(name) or public.get_model_variant(name)
    if model is None:
        return
    info = model.info
    facts.source = "catalog"
    facts.display_name = facts.display_name or info.display_name
    facts.license = info.license or facts.license
    facts.context_length = info.context_length
    if info.supports_tool_calling is not None:
        facts.tool_calling = bool(info.supports_tool_calling)
    facts.variants = [Variant(v.id, runtime.device_of(v), v.info.runtime.execution_provider if v.info.runtime else "",
                              v.info.file_size_mb, v.is_cached) for v in model.variants]
    facts.disk_mb = info.file_size_mb or facts.disk_mb
    facts.sources.append("the public Foundry Local catalog")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,.0f}" if isinstance(value, float) else str(value)


def render(facts: ModelFacts) -> str:
    """`model info` as aligned text lines."""
    disk = f"{_cell(facts.disk_mb)} MB" + ("" if facts.disk_mb is None else
                                           " (on disk)" if facts.disk_measured else " (stated by models.json or the catalog)")
    params = f"{facts.params_b:g} B" if facts.params_b else "–"
    rows = [
        ("model", facts.alias), ("name", _cell(facts.display_name)), ("source", facts.source),
        ("parameters", f"{params} ({size_class(facts.params_b)})"),
        ("context length", f"{_cell(facts.context_length)} tokens"), ("tool calling", _cell(facts.tool_calling)),
        ("size", disk), ("license", _cell(facts.license)), ("instruct", _cell(facts.instruct)),
        ("capabilities", ", ".join(facts.capabilities) or "–"),
    ]
    rows += [("variant", f"{v.id}: {v.device}, {v.execution_provider or '–'}"
              + (f", {v.size_mb:,.0f} MB" if v.size_mb else "") + (", cached" if v.cached else ""))
             for v in facts.variants] or [("variants", "–")]
    rows.append(("from", "; ".join(facts.sources)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
