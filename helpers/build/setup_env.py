"""`python -m helpers setup`: the kit's virtual environment and bundled models, idempotent.

Runs under any Python 3.11+ with the standard library only: it creates `.venv` in the repository, installs
requirements.txt into it (skipped when unchanged since the last install), installs the kit itself in editable
mode (the `foundry-lab` command), then builds the bundled models inside that environment. A second run does
nothing but check.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import venv
from pathlib import Path

from ..core.paths import REPO_ROOT, venv_python

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


PYPROJECT = REPO_ROOT / "pyproject.toml"
EDITABLE_STAMP = VENV_DIR / ".editable.sha256"
OLD_LINK = "foundry_model_lab.pth"  # what setup wrote before the kit was an installable package


def install_kit(python: Path) -> None:
    """Install this repository into `.venv` in editable mode (`pip install -e .`): `import helpers` from any folder
    and the `foundry-lab` command. Skipped when pyproject.toml and the repository path are unchanged; replaces the
    `.pth` link earlier setups wrote."""
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / OLD_LINK).unlink(missing_ok=True)
    stamp = hashlib.sha256(PYPROJECT.read_bytes() + str(REPO_ROOT).encode()).hexdigest()
    if EDITABLE_STAMP.exists() and EDITABLE_STAMP.read_text().strip() == stamp:
        print("[setup] kit installed (editable)")
        return
    # --no-deps: requirements.txt is installed above (the build backend, pinned in pyproject.toml, comes from the index)
    result = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                             "-e", str(REPO_ROOT)])
    if result.returncode != 0:
        raise SystemExit(f"[setup] step 'install the kit' failed (pip exit code {result.returncode}): "
                         f"run `{python} -m pip install -e {REPO_ROOT}` to see why, then run setup again.")
    EDITABLE_STAMP.write_text(stamp)
    print("[setup] kit installed (editable): `foundry-lab` and `python -m helpers` work in .venv")


def setup(force: bool = False, build_models: bool = True) -> int:
    """Environment, then bundled models (built in the new environment). Returns an exit code."""
    if sys.version_info < MIN_PYTHON:
        print(f"[setup] Python {'.'.join(map(str, MIN_PYTHON))}+ is needed (foundry-local-sdk 2.x); this is {sys.version.split()[0]}.")
        return 2
    python = ensure_venv()
    install_kit(python)
    if not build_models:
        return 0
    command = [str(python), "-m", "helpers", "build"] + (["--force"] if force else [])
    return subprocess.run(command, cwd=REPO_ROOT).returncode
