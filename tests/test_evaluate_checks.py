"""Instruction checks (IFEval-style) and code run in the sandbox (HumanEval-style): decided, never matched."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.core.config import Check, CodeSpec, load_prompts
from helpers.evaluate import checks, code_tests, statements

PROMPTS = load_prompts()
STANDUP = next(p for p in PROMPTS.sets["meeting-notes"].prompts if p.id == "product-standup")
SQUARE = next(p for p in PROMPTS.sets["local-inference"].prompts if p.id == "python-square")
SMOKE = {p.id: p for p in PROMPTS.sets["smoke"].prompts}


def _check(kind, answer, prompt=STANDUP, **kw):
    return checks.run_check(Check(kind=kind, **kw), answer, prompt)


def test_counts_sentences_bullets_and_words():
    assert statements.sentences("Fridge-03 warmed to 9.2C. R. Patel was alerted, e.g. by SMS!") == [
        "Fridge-03 warmed to 9.2C.", "R. Patel was alerted, e.g. by SMS!"]
    answer = "Summary:\n\n- **Decisions:** launch Friday.\n* Owners: Marcus.\n1. Dates: Wednesday."
    assert len(statements.bullets(answer)) == 3
    assert _check("bullets", answer, count=3).passed and not _check("bullets", answer, count=2).passed
    assert _check("sentences", "One. Two.", count=2).passed and not _check("sentences", "One. Two. Three.", count=2).passed
    assert _check("words", "Hello there, how are you?", count=5).passed
    assert not _check("max_words", "word " * 12, count=10).passed


def test_number_check_reads_the_stated_answer_not_a_negated_one():
    two_plus_two = SMOKE["two-plus-two"]
    assert checks.run_checks("4", two_plus_two)[0].passed
    assert checks.run_checks("2 + 2 = 4", two_plus_two)[0].passed
    assert not checks.run_checks("The answer is not 4. 2 + 2 = 5.", two_plus_two)[0].passed


def test_grounded_flags_invented_numbers_months_and_names_only():
    right = "- Marcus fixes the sync crash by Wednesday (Mar 12).\n- QA starts Tuesday, March 11."
    assert _check("grounded", right).passed  # Mar 12 is in the facts, Tuesday may be derived from "tomorrow"
    invented = "- Marcus raises the note limit to 50 MB.\n- It also supports French in June."
    found = checks.unsupported(invented, STANDUP)
    assert {"50", "French", "june"} <= set(found)


def test_no_repeats_catches_a_repeated_line():
    assert not _check("no_repeats", "- The beta launches Friday.\n- The beta launches Friday.").passed
    assert _check("no_repeats", "- The beta launches Friday.\n- Dark mode moves to April.").passed


def test_code_is_extracted_from_fences_or_plain_text():
    assert statements.code("Sure:\n```python\ndef square(x):\n    return x * x\n```\nDone.") == \
        "def square(x):\n    return x * x"
    assert statements.code("def square(x): return x ** 2\n\nThis squares x.") == "def square(x): return x ** 2"
    assert statements.code("Square a number by multiplying it by itself.") == ""


@pytest.mark.parametrize("answer, passed", [
    ("```python\ndef square(x): return x ** 2\n```", [True] * 5),
    ("def sq(n):\n    return n * n", [True] * 5),  # another name: the one function defined is tested
    ("def square(x): return x * 2  # uses **square** and x", [False, False, True, False, False]),
    ("def square(x): return x ^ 2", None),  # bitwise xor: fails, and 2.5 raises
    ("The square of x is x times x.", [False] * 5),
])
def test_code_runs_against_the_cases(answer, passed):
    result = code_tests.run_answer(answer, SQUARE.code)
    if passed is None:
        assert not any(result.passed)
    else:
        assert result.passed == passed


@pytest.mark.parametrize("body, reason", [
    ("return open('/etc/passwd').read()", "outside the sandbox"),
    ("import socket\n    return socket.socket()", "not allowed"),
    ("import os\n    os.system('echo escaped > /tmp/escaped')\n    return x * x", "os.system is not allowed"),
    ("import subprocess\n    return subprocess.run(['true'])", "not allowed"),
    (f"import os\n    return os.listdir({str(Path.home())!r})", "outside the sandbox"),  # the user's files
    ("import os\n    return os.listdir(os.path.expanduser('~'))", "want 9"),  # HOME is the sandbox: allowed
    ("open('../escape.txt', 'w').write('x')\n    return x * x", "outside the sandbox"),
])
def test_sandbox_escape_attempts_fail_cleanly(body, reason):
    result = code_tests.run_answer(f"def square(x):\n    {body}", SQUARE.code)
    assert not any(result.passed)
    assert reason in result.details[0]
    assert not Path("/tmp/escaped").exists()


def test_an_endless_loop_times_out_without_hanging():
    spec = CodeSpec(function="square", cases=[{"args": [1], "expected": 1}, {"args": [2], "expected": 4}])
    started = time.monotonic()
    result = code_tests.run_code("def square(x):\n    while True:\n        pass", spec, case_seconds=1)
    assert result.passed == [False, False] and "TimeoutError" in result.details[0]
    assert time.monotonic() - started < 8


def test_writing_inside_the_sandbox_is_allowed():
    result = code_tests.run_answer("def square(x):\n    open('scratch.txt', 'w').write('x')\n    return x * x",
                                   SQUARE.code)
    assert all(result.passed)


def test_list_numbers_and_trailing_zeros_are_not_invented_numbers():
    # calibration c002/c006 (a numbered list's 1. 2. 3.) and c101 ("5 degrees" for the log's 5.0C)
    numbered = "1. Beta launch stays Friday, March 14.\n2. Marcus fixes the crash.\n3. Priya sends invites."
    assert checks.unsupported(numbered, STANDUP) == []
    fridge = next(p for p in PROMPTS.sets["edge-summarizer"].prompts if p.id == "fridge-temperature-alarm")
    assert checks.unsupported("It cooled back to 5 degrees; it peaked at 9.20C.", fridge) == []
    assert checks.unsupported("It cooled back to 6 degrees.", fridge) == ["6"]
