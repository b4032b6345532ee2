"""Presentation tables of what the runtime sees: the catalog (`list_catalog`) and the model cache (`cache_table`).

Sizes are in MB = 10^6 bytes (`size_mb`): measured on disk for bundled and converted models, as the catalog states
it for catalog models.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.config import load_models
from ..serve import app_service
from ..serve.endpoints import app_service_endpoint
from ..serve.runtime import LabRuntime, device_of, disk_mb, model_dir, start

if TYPE_CHECKING:
    import pandas as pd


def list_catalog(runtime: LabRuntime | None = None) -> pd.DataFrame:
    """Every model variant the kit can see, one row each, bundled ones first; `size_class` (tiny / small /
    mid / large, `config.size_class`) from models.json, `unknown` for a model it does not list.

    With FOUNDRY_LOCAL_ENDPOINT on the Foundry Local app's service: the service's catalog (`source` = `service`),
    since that is where the models run.
    """
    import pandas as pd
    from foundry_local_sdk import CatalogType

    service = app_service_endpoint()
    if service:
        return app_service.catalog_table(service)
    rt = runtime or start()
    entries = load_models().models
    variants = [variant for model in rt.manager.get_catalog().list_models() for variant in model.variants]
    # A model registered a moment ago (byom) is missing from the catalog list until the runtime's catalog cache
    # expires: take it from the local catalog, where the registration is immediate.
    listed = {variant.info.alias for variant in variants}
    local = rt.manager.get_catalog(CatalogType.LOCAL)
    variants += [found for name, item in rt.bundled.items() if name not in listed
                 for found in [local.get_model_variant(item.catalog.model_id)] if found is not None]
    rows = []
    for variant in variants:
        info = variant.info
        bundled = info.alias in rt.bundled
        entry = entries.get(info.alias)
        rows.append(
            {
                "alias": info.alias,
                "id": info.id,
                "size_class": entry.size_class if entry else "unknown",
                "device": device_of(variant),
                "execution_provider": info.runtime.execution_provider if info.runtime else "",
                "size_mb": disk_mb(rt.bundled[info.alias].path) if bundled else info.file_size_mb,
                # a converted model's license comes from its kit_model.json (byom --license), like a bundled one's
                "license": rt.bundled[info.alias].catalog.license if bundled
                else info.license or (entry.license if entry else None),
                "task": info.task,
                "context_length": rt.bundled[info.alias].context_length if bundled else info.context_length,
                "cached": variant.is_cached,
                "loaded": variant.is_loaded,
                "source": rt.bundled[info.alias].source if bundled else "catalog",
            }
        )
    columns = ["alias", "id", "size_class", "device", "execution_provider", "size_mb", "license", "task",
               "context_length", "cached", "loaded", "source"]
    table = pd.DataFrame(rows, columns=columns)
    order = table.source.map({"bundled": 0, "converted": 1, "catalog": 2})
    return table.assign(_order=order).sort_values(["_order", "alias"], ignore_index=True).drop(columns="_order")


def cache_table(runtime: LabRuntime | None = None) -> pd.DataFrame:
    """Models in the kit's cache with their folder and size on disk."""
    import pandas as pd

    rt = runtime or start()
    rows = [
        {"alias": m.alias, "id": m.id, "source": rt.bundled[m.alias].source if m.alias in rt.bundled else "catalog",
         "path": str(model_dir(m, rt) or ""), "size_mb": disk_mb(model_dir(m, rt))}
        for m in rt.manager.get_catalog().get_cached_models()
    ]
    return pd.DataFrame(rows, columns=["alias", "id", "source", "path", "size_mb"])
