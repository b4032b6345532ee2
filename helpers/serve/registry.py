"""Which models the kit can see: built model folders (bundled by setup, converted by the user), the world
(online or offline) and the defaults of models.json for it, and registration in Foundry Local's LOCAL catalog."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import paths
from ..core.config import READ_ENCODING, load_models
from . import app_service
from .endpoints import app_service_endpoint
from .offline_catalog import CatalogModel

if TYPE_CHECKING:
    from foundry_local_sdk import FoundryLocalManager

PUBLIC_CATALOG_HOST = "api.catalog.azureml.ms"
PUBLIC_CATALOG_URL = f"https://{PUBLIC_CATALOG_HOST}/asset-gallery/v1.0/models"
OFFLINE_ENV = "FOUNDRY_LAB_OFFLINE"


@dataclass
class BundledModel:
    """A built bundled (or converted) model folder and what the catalogs should say about it."""

    catalog: CatalogModel
    path: Path
    meta: dict = field(default_factory=dict)
    cache_path: Path | None = None

    @property
    def source(self) -> str:
        """`bundled` (built by setup) or `converted` (brought by the user with `byom`)."""
        return "bundled" if self.path.parent == paths.bundled_models_dir() else "converted"

    @property
    def context_length(self) -> int | None:
        search = json.loads((self.path / "genai_config.json").read_text(encoding=READ_ENCODING)).get("search", {})
        return search.get("max_length")


_offline: bool | None = None


def detect_offline(timeout_s: float = 2.0) -> bool:
    """True when the public Foundry catalog cannot be reached; decided once per process.

    Set FOUNDRY_LAB_OFFLINE=1 (or 0) to skip the probe. The runtime itself would wait ~4 s per catalog call.
    """
    global _offline
    if _offline is None:
        forced = os.environ.get(OFFLINE_ENV)
        if forced in ("0", "1"):
            _offline = forced == "1"
        else:
            try:
                socket.create_connection((PUBLIC_CATALOG_HOST, 443), timeout=timeout_s).close()
                _offline = False
            except OSError:
                _offline = True
    return _offline


def model_folder(folder: Path, entries: dict | None = None) -> BundledModel:
    """A built model folder (`genai_config.json` + `kit_model.json`) as the catalogs describe it."""
    if not (folder / "genai_config.json").is_file() or not (folder / "kit_model.json").is_file():
        raise FileNotFoundError(f"{folder} is not a built model folder: it needs genai_config.json and kit_model.json "
                                "(build it with `python -m helpers byom` or `python -m helpers build`).")
    meta = json.loads((folder / "kit_model.json").read_text(encoding=READ_ENCODING))
    entry = (load_models().models if entries is None else entries).get(folder.name)
    return BundledModel(
        catalog=CatalogModel(
            name=folder.name,
            alias=folder.name,
            display_name=entry.display_name if entry else meta.get("display_name", folder.name),
            license=entry.license if entry else meta.get("license", "unknown"),
        ),
        path=folder,
        meta=meta,
    )


def default_models(offline: bool | None = None) -> list[str]:
    """models.json `defaults.offline` when the public catalog is unreachable, else `defaults.online`.

    With FOUNDRY_LOCAL_ENDPOINT on the Foundry Local app's service: the defaults of both worlds that the service
    lists, else the models it has cached.
    """
    defaults = load_models().defaults
    service = app_service_endpoint()
    if service:
        return app_service.default_models(service, defaults["offline"] + defaults["online"])
    return defaults["offline" if (detect_offline() if offline is None else offline) else "online"]


def default_judge(offline: bool | None = None) -> str | None:
    """models.json `judge.offline` or `judge.online` (the strongest instruct model of that world), or None."""
    return load_models().judge.get("offline" if (detect_offline() if offline is None else offline) else "online")


def find_bundled() -> dict[str, BundledModel]:
    """Built model folders under the kit home (bundled and user-converted), by name."""
    entries = load_models().models
    found: dict[str, BundledModel] = {}
    for root in (paths.bundled_models_dir(), paths.user_models_dir()):
        for folder in sorted(root.glob("*/")) if root.exists() else []:
            if folder.name.startswith("."):  # a build in progress (.name.partial, .name.work) or a replaced one
                continue
            if (folder / "genai_config.json").is_file() and (folder / "kit_model.json").is_file():
                found.setdefault(folder.name, model_folder(folder, entries))
    return found


def register_local(manager: "FoundryLocalManager", item: BundledModel) -> None:
    """Register one model folder, already placed in the cache, in the LOCAL catalog unless it is there."""
    from foundry_local_sdk import CatalogType, ModelInfoBuilder

    local = manager.get_catalog(CatalogType.LOCAL)
    if local.get_model_variant(item.catalog.model_id) is not None:
        return
    info = ModelInfoBuilder()
    info.set_string_property("task", item.catalog.task)
    info.set_string_property("display_name", item.catalog.display_name)
    info.set_string_property("license", item.catalog.license)
    # Registered at the cache placement: one folder, so a load in-process also serves the web service.
    local.register_model(item.cache_path, item.catalog.model_id, info)


def local_models(bundled: dict[str, BundledModel]) -> str:
    """The models built on this machine, by source: `bundled: a, b; converted: c` (or `none built`)."""
    by_source: dict[str, list[str]] = {}
    for name, item in sorted(bundled.items()):
        by_source.setdefault(item.source, []).append(name)
    return "; ".join(f"{source}: {', '.join(names)}" for source, names in by_source.items()) or "none built"
