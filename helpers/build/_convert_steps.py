"""The worker's side of the conversion protocol (`_convert_worker.py`'s docstring lists the lines): announce, time
and fail steps, and the JSON files of a model folder. Runs inside the converter venv, never imported by the kit."""
from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StepError(Exception):
    """A failure the user can act on: what went wrong and what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


def emit(*words: object) -> None:
    print(*words, flush=True)


@contextmanager
def step(name: str, description: str, fix: str) -> Iterator[None]:
    """Announce a step, time it, and turn any failure into an ERROR line (with `fix` as the default advice)."""
    emit("STEP", name, description)
    start = time.monotonic()
    try:
        yield
    except StepError as error:
        emit("ERROR", name, json.dumps({"message": error.message, "fix": error.fix}))
        raise SystemExit(2) from error
    except Exception as error:  # anything else still gets a named step and advice
        traceback.print_exc(file=sys.stdout)
        emit("ERROR", name, json.dumps({"message": f"{type(error).__name__}: {error}", "fix": fix}))
        raise SystemExit(2) from error
    emit("DONE", name, f"{time.monotonic() - start:.1f}")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is accepted


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
