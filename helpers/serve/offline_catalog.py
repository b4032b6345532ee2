"""A loopback model catalog so Foundry Local's web service can serve the bundled models offline.

The built-in web service only serves models of the PUBLIC catalog. Foundry Local accepts extra catalog URLs
(`Configuration(catalog_urls=...)`); this module answers those catalog queries on 127.0.0.1 with entries for
the kit's models, and lays the model folders out in the model cache the way the runtime expects.
The response format is the asset-gallery format observed from foundry-local-sdk 2.2.1: it is not a documented
contract, so it lives here and only here (tests/test_offline_catalog.py pins it).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CATALOG_PATH = "/asset-gallery/v1.0/models"
PUBLISHER = "local"


@dataclass(frozen=True)
class CatalogModel:
    """What the offline catalog says about one model folder."""

    name: str
    alias: str
    display_name: str
    license: str
    task: str = "chat-completion"
    device: str = "cpu"
    execution_provider: str = "CPUExecutionProvider"
    version: int = 1

    @property
    def model_id(self) -> str:
        return f"{self.name}:{self.version}"


def catalog_entry(model: CatalogModel) -> dict:
    """One asset-gallery record, in the shape Foundry Local's catalog client parses."""
    asset = f"azureml://registries/azureml/models/{model.name}/versions/{model.version}"
    parent = f"azureml://registries/azureml/models/{model.alias}/versions/{model.version}"
    tasks = [model.task]
    return {
        "assetId": asset,
        "entityId": model.name,
        "name": model.name,
        "version": str(model.version),
        "annotations": {
            "tags": {"alias": model.alias, "task": model.task, "license": model.license},
            "inferenceTasks": tasks,
            "systemCatalogData": {"publisher": PUBLISHER, "displayName": model.display_name, "inferenceTasks": tasks},
        },
        "properties": {
            "name": model.name,
            "version": model.version,
            "inferenceTasks": tasks,
            "variantInfo": {
                "parents": [{"assetId": parent}],
                "variantMetadata": {"device": model.device, "executionProvider": model.execution_provider, "modelType": "ONNX"},
            },
        },
    }


def place_in_cache(model_dir: Path, model: CatalogModel, cache_dir: Path) -> Path:
    """Make `model_dir` a cached model of the catalog: `<cache>/local/<name>/` + `inference_model.json`.

    The built folder stays untouched (its files are linked, or copied where links are not allowed), so its
    content hashes stay valid. Idempotent.
    """
    target = cache_dir / PUBLISHER / model.name
    target.mkdir(parents=True, exist_ok=True)
    for source in model_dir.iterdir():
        if not source.is_file() or source.name == "inference_model.json":
            continue
        link = target / source.name
        if link.is_symlink() and link.resolve() == source.resolve():
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        try:
            os.symlink(source.resolve(), link)
        except OSError:  # Windows without developer mode: copy instead
            shutil.copy2(source, link)
    (target / "inference_model.json").write_text(json.dumps({"Name": model.model_id, "PromptTemplate": None}))
    return target


class OfflineCatalogServer:
    """Answers Foundry Local's catalog queries on loopback with the kit's models; lives as long as the manager."""

    def __init__(self, models: list[CatalogModel]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if not self.path.startswith(CATALOG_PATH):
                    self.send_error(404)
                    return
                body = self.server.payload  # type: ignore[attr-defined]
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.update(models)
        threading.Thread(target=self._server.serve_forever, name="offline-catalog", daemon=True).start()

    def update(self, models: list[CatalogModel]) -> None:
        """Serve this list from now on (the runtime re-reads it when its catalog cache expires)."""
        self._server.payload = json.dumps({"value": [catalog_entry(m) for m in models]}).encode()  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{CATALOG_PATH}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
