"""seq-rep-4 over an answer's tail: loops score high, ordinary answers (lists, code, summaries) low."""
from __future__ import annotations

import pytest

from helpers.evaluate import degeneration


@pytest.mark.parametrize("text, looped", [
    (".1" * 100, True),
    ("data standardization, " * 20, True),
    ("The cat sat. " * 10, True),
    ("def square(x):\n    return x * x", False),
    ("- Privacy: data stays local.\n- Latency: no round trip.\n- Cost: no per-token bill.", False),
    ("Marcus fixes the crash by Wednesday; Jonas writes the notes by Thursday; Priya emails testers Friday.", False),
    ("", False),
])
def test_is_looped(text, looped):
    assert degeneration.is_looped(text) is looped


def test_repetition_rate_is_seq_rep_n():
    assert degeneration.repetition_rate("a b c d e", n=4) == 0.0  # 2 distinct 4-grams of 2
    assert degeneration.repetition_rate("a b a b a b", n=2) == pytest.approx(1 - 2 / 5)
    assert degeneration.repetition_rate("a b", n=4) == 0.0
