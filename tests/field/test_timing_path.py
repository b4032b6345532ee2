"""Each case of issue #10 through the notebook path: `endpoints.openai_client` + `timing.time_openai_chat`
(what notebook 03 calls), against the case's scripted loopback server."""
from __future__ import annotations

import pytest

from helpers.core.api_key import API_KEY_ENV
from helpers.measure.timing import time_openai_chat
from helpers.measure.tokens import count_tokens, tokenizer_for
from helpers.serve import endpoints

from ..fixture_server import Script, serve
from .cases import API_KEY, CASES, SMOL_ID, WORDS, Case
from .conftest import chat_requests, run_case, with_send_time

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count."}]


@pytest.fixture(scope="module", autouse=True)
def warm_client() -> None:
    """The client's first request pays for lazy imports; measure warm, as benchmarks do."""
    script = Script(ttft_s=0.0, gap_s=0.0, tokens=2)
    with serve(script) as base_url:
        for stream in (True, False):
            time_openai_chat(endpoints.openai_client(base_url), script.model_id, MESSAGES, max_tokens=8, stream=stream)


def _trial(case: Case) -> tuple[Script, dict]:
    def measure(base_url: str, script: Script) -> dict:
        client = endpoints.openai_client(base_url)
        return time_openai_chat(client, script.model_id, MESSAGES, max_tokens=64, stream=case.stream).to_record()

    return run_case(case, measure)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_the_right_value(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    script, record = _trial(case)
    case.check(with_send_time(record, (chat_requests(script) or [None])[0]))
    if case.env.get(API_KEY_ENV):
        assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in script.received)


def test_words_are_one_token_each() -> None:
    """The tokens-per-chunk case relies on the bundled SmolLM2 tokenizer (built by setup)."""
    tokenizer = tokenizer_for(SMOL_ID)
    assert tokenizer is not None, "bundled model not built: run `python -m helpers setup`"
    assert [count_tokens(tokenizer, w) for w in WORDS] == [1] * 20
    assert count_tokens(tokenizer, "".join(WORDS)) == 20


def test_unreachable_endpoint_names_the_url() -> None:
    with serve(Script()) as base_url:
        pass  # the port is free again
    trial = time_openai_chat(endpoints.openai_client(base_url), "m", MESSAGES, max_tokens=4)
    assert not trial.ok and f"{base_url}/v1" in trial.error


def test_without_the_key_the_trial_fails_once_with_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    script = Script(api_key=API_KEY)
    with serve(script) as base_url:
        trial = time_openai_chat(endpoints.openai_client(base_url), script.model_id, MESSAGES, max_tokens=8)
    assert not trial.ok and "401" in trial.error and len(chat_requests(script)) == 1
