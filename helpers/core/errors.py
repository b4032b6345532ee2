"""The kit's clear errors: the message names the file, field, model, port or URL and says what to do.

The command line (`foundry-lab`, `python -m helpers`) prints such an error as one line, without a traceback, and
exits with status 1; anything else is a bug and keeps its traceback. Standard library only (setup imports it).
"""
from __future__ import annotations

from .api_key import redact


class ClearError(Exception):
    """An error whose message is complete for the user; mixed into the kit's own error classes."""


def error_text(exc: BaseException) -> str:
    """`ExceptionType: message`, as trial records, tables and printed lines show an error; the API key redacted."""
    return redact(f"{type(exc).__name__}: {exc}")
