"""FOUNDRY_LOCAL_API_KEY is sent, never shown: every error text the kit records or prints has it redacted."""
from __future__ import annotations

import json

import pytest

from helpers.bench.results import RESULTS_FILE, ResultsLog
from helpers.core.api_key import API_KEY_ENV, redact
from helpers.core.errors import error_text

from .test_records import _trial


def test_the_key_is_redacted_from_error_texts_and_the_results_log(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "sekrit123")
    echoed = RuntimeError("401: Incorrect API key provided: Bearer sekrit123")
    assert error_text(echoed) == "RuntimeError: 401: Incorrect API key provided: Bearer ***"
    with ResultsLog(tmp_path / RESULTS_FILE) as log:
        log.append(_trial(error="echo sekrit123", text="the answer names sekrit123"))
    written = json.loads((tmp_path / RESULTS_FILE).read_text(encoding="utf-8"))
    assert (written["error"], written["text"]) == ("echo ***", "the answer names ***")


def test_no_key_or_a_very_short_one_leaves_text_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert redact("Bearer sekrit123") == "Bearer sekrit123"
    monkeypatch.setenv(API_KEY_ENV, "ab")  # would blank ordinary letters out of every message
    assert redact("a table about bananas") == "a table about bananas"
