"""Degenerate repetition: an answer that repeats itself until the token cap is a failed answer, not a cut one.

A small model sometimes falls into a loop (".1.1.1.1…", the same docstring line again and again) and only stops
at max_tokens. More tokens would not complete it, so it is not scored as "incomplete" but as a failure.

`repetition_rate` is seq-rep-n of Welleck et al. 2019, "Neural Text Degeneration with Unlikelihood Training"
(arXiv:1908.04319): 1 - |unique n-grams| / |n-grams| over a token sequence (0 = no n-gram repeats, → 1 = one
n-gram over and over). Tokens here are words and single punctuation marks (lowercased), so ".1.1.1" repeats too.
`is_looped` applies it to the answer's last TAIL_TOKENS tokens, where a loop ends. Threshold LOOP_RATE: on the
main job's 45 answers (2026-12-03) the looping ones scored 0.56-0.97 and every other answer <= 0.16.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
NGRAM = 4
TAIL_TOKENS = 64
LOOP_RATE = 0.4


def repetition_rate(text: str, n: int = NGRAM, tail: int | None = TAIL_TOKENS) -> float:
    """seq-rep-n (0-1) over the last `tail` tokens of `text` (all of it when tail is None); 0.0 when it has fewer
    than n tokens."""
    tokens = _TOKEN.findall(text.lower())
    if tail is not None:
        tokens = tokens[-tail:]
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def is_looped(text: str) -> bool:
    """True when the answer's tail repeats itself (repetition_rate >= LOOP_RATE)."""
    return repetition_rate(text) >= LOOP_RATE
