"""Progress for every step longer than a few seconds, saying what is happening: per model and per answer.

`steps(total, what)` is a tqdm bar: a widget where a person watches (`is_live`, the rule stated in
`helpers.present.widgets`), text on stderr otherwise (a terminal, a test run). `Steps.doing(model, action)` names
the model and what it is doing now ("loading", "answer 2/5: rag-definition", ...) before the step starts, so a
long wait is never silent.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

HEADLESS_ENV = "FOUNDRY_LAB_HEADLESS"


def is_live() -> bool:
    """True when widgets can be shown to a person (the rule: `helpers.present.widgets` docstring)."""
    forced = os.environ.get(HEADLESS_ENV)
    if forced in ("0", "1"):
        return forced == "0"
    if os.environ.get("PYTEST_CURRENT_TEST"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class Steps:
    """A progress bar over `total` steps; `doing` says what runs now, `done` counts a step."""

    def __init__(self, total: int, what: str, live: bool | None = None) -> None:
        if is_live() if live is None else live:
            from tqdm.notebook import tqdm
            self._bar: Any = tqdm(total=total, desc=what, unit="step")
        else:
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=what, unit="step", file=sys.stderr, mininterval=0.5)

    def doing(self, model: str, action: str) -> None:
        """Show `model: action` before the step starts (the bar refreshes at once)."""
        self._bar.set_description_str(model, refresh=False)
        self._bar.set_postfix_str(action, refresh=True)

    def streaming(self, model: str, action: str, every_s: float = 0.5) -> Callable[[str], None]:
        """Show `model: action` now, and return an `on_token` callback that adds the count of tokens generated so
        far ("action · 37 tokens", refreshed at most every `every_s` seconds): a step that generates for many
        seconds (a judge's verdict) shows it is moving."""
        self.doing(model, action)
        count, shown = 0, time.monotonic()

        def on_token(_: str) -> None:
            nonlocal count, shown
            count += 1
            if time.monotonic() - shown >= every_s:
                self._bar.set_postfix_str(f"{action} · {count} tokens", refresh=True)
                shown = time.monotonic()
        return on_token

    def done(self, count: int = 1) -> None:
        self._bar.update(count)

    def write(self, line: str) -> None:
        """A line above the bar (a result worth keeping on screen)."""
        self._bar.write(line)

    def close(self, summary: str = "") -> None:
        self._bar.set_postfix_str(summary or "done", refresh=False)
        self._bar.close()

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("stopped" if exc[0] else "")


def steps(total: int, what: str, live: bool | None = None) -> Steps:
    """A `Steps` bar over `total` steps named `what`; use as a context manager."""
    return Steps(total, what, live)
