"""`python -m helpers setup`: the kit's virtual environment and bundled models, idempotent.

Runs under any Python 3.11+ with the standard library only: it creates `.venv` in the repository, installs
requirements.txt into it (skipped when unchanged since the last install), then builds the bundled models
inside that environment. A second run does nothing but check.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import venv
from pathlib import Path

from ..paths import REPO_ROOT, venv_python

VENV_DIR = REPO_ROOT / ".venv"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
STAMP = VENV_DIR / ".requirements.sha256"
MIN_PYTHON = (3, 11)


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_venv() -> Path:
    """Create `.venv` and install requirements.txt unless the same file was installed already."""
    python = venv_python(VENV_DIR)
    if not python.exists():
        print(f"[setup] creating virtual environment {VENV_DIR}")
        venv.EnvBuilder(with_pip=True).create(VENV_DIR)
    if STAMP.exists() and STAMP.read_text().strip() == _requirements_hash():
        print("[setup] requirements up to date")
        return python
    print(f"[setup] installing {REQUIREMENTS.name} into .venv")
    started = time.perf_counter()
    result = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(REQUIREMENTS)])
    if result.returncode != 0:
        raise SystemExit(
            f"[setup] step 'install requirements' failed (pip exit code {result.returncode}). "
            "Check the network access to the package index and free disk, then run setup again."
        )
    STAMP.write_text(_requirements_hash())
    print(f"[setup] requirements installed in {time.perf_counter() - started:.0f} s")
    return python


def link_repository(python: Path) -> None:
    """Put the repository on the environment's import path (a .pth file), so notebooks import `helpers`."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "foundry_model_lab.pth").write_text(str(REPO_ROOT) + "\n")


def setup(force: bool = False, build_models: bool = True) -> int:
    """Environment, then bundled models (built in the new environment). Returns an exit code."""
    if sys.version_info < MIN_PYTHON:
        print(f"[setup] Python {'.'.join(map(str, MIN_PYTHON))}+ is needed (foundry-local-sdk 2.x); this is {sys.version.split()[0]}.")
        return 2
    python = ensure_venv()
    link_repository(python)
    if not build_models:
        return 0
    command = [str(python), "-m", "helpers", "build"] + (["--force"] if force else [])
    return subprocess.run(command, cwd=REPO_ROOT).returncode
