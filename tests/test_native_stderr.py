"""The native runtime's expected refusals are held back from stderr; every other line still reaches it."""
from __future__ import annotations

import os

from helpers.serve.native_stderr import held_back

REFUSAL = "[error] model_load_manager.cc:286 cannot unload model 'm:1': 1 session(s) still using it\n"


def test_expected_lines_are_dropped_and_the_rest_reach_stderr(capfd):
    with held_back(lambda line: "still using it" in line) as held:
        os.write(2, REFUSAL.encode())  # what the native library does: straight to file descriptor 2
        os.write(2, b"[warning] something else\n")
    assert held.handled == [REFUSAL.rstrip("\n")]
    assert capfd.readouterr().err == "[warning] something else\n"


def test_when_the_kit_could_not_handle_it_the_lines_are_shown(capfd):
    try:
        with held_back(lambda line: "still using it" in line) as held:
            os.write(2, REFUSAL.encode())
            held.drop = False
            raise RuntimeError("gave up")
    except RuntimeError:
        pass
    assert capfd.readouterr().err == REFUSAL and held.handled == []
