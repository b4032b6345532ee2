"""The native runtime's own log lines on stderr, held back while the kit handles what they report.

Foundry Local's native library writes its log lines straight to the process's stderr (file descriptor 2), not
through Python: an unload refused with "[error] … cannot unload model … session(s) still using it" prints that
line even when the kit's retry frees the model a moment later (`runtime.unload`), and an attendee reads "[error]"
and raises a hand. `held_back()` points descriptor 2 at a temporary file for the duration of a block and gives
back the lines written there; `expected` lines (ones the kit handled) are dropped, every other line is written to
stderr again when the block ends, so nothing else is lost.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_LOCK = threading.Lock()  # one redirection at a time in this process


@dataclass
class Held:
    """What `held_back` caught: `handled` (the expected lines, dropped), and `drop`: set it False when the kit
    could not handle what they report after all, to have them written to stderr too."""

    handled: list[str] = field(default_factory=list)
    drop: bool = True


@contextmanager
def held_back(expected: Callable[[str], bool]) -> Iterator[Held]:
    """Capture what is written to file descriptor 2 in the block. At its end, the `expected` lines are dropped
    (kept in `Held.handled`) unless `Held.drop` was set False; every other line goes back to stderr, in order."""
    held = Held()
    with _LOCK, tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", errors="replace").splitlines(keepends=True):
                if held.drop and expected(line):
                    held.handled.append(line.rstrip("\n"))
                else:
                    sys.stderr.write(line)
            sys.stderr.flush()
