"""`foundry-lab rehearse`: each step of the 30-minute path timed against its slot; non-zero exit when one fails
or overruns. The last test runs the real path (`--quick`) on the bundled models."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.core import paths
from helpers.workshop import rehearse

SMOL = "smollm2-135m-instruct-int4"


def test_the_slots_are_the_sessions_8_5_8_5_4_minutes():
    assert [minutes for _, minutes, _ in rehearse.STEPS] == [8, 5, 8, 5, 4]


def test_a_step_that_fails_or_overruns_is_reported_and_fails_the_rehearsal(monkeypatch, tmp_path):
    def fail(r):
        raise RuntimeError("no model")

    monkeypatch.setattr(rehearse, "STEPS", [("fine", 1, lambda r: None), ("broken", 1, fail),
                                            ("slow", 0.0001, lambda r: __import__("time").sleep(0.05))])
    assert rehearse.main(str(tmp_path), 0, [SMOL]) == 1
    rows = json.loads((tmp_path / "rehearsal.json").read_text())
    assert [(r["step"], r["verdict"]) for r in rows] == [("fine", "within"), ("broken", "FAILED"), ("slow", "OVER")]
    assert rows[1]["error"] == "no model"
    table = (tmp_path / "rehearsal.md").read_text()
    assert "| broken | 1 min |" in table and "FAILED: no model" in table and "| total |" in table


def test_all_within_their_slots_exits_zero(monkeypatch, tmp_path):
    monkeypatch.setattr(rehearse, "STEPS", [("a", 1, lambda r: None), ("b", 1, lambda r: None)])
    assert rehearse.main(str(tmp_path), 0, [SMOL]) == 0


def test_the_whole_path_on_the_bundled_models(lab, tmp_path):
    done = subprocess.run([sys.executable, "-m", "helpers", "rehearse", "--quick", "--models", SMOL, "--out",
                           str(tmp_path)], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=1500)
    rows = json.loads((tmp_path / "rehearsal.json").read_text())
    assert [r["verdict"] for r in rows] != [] and all(r["ok"] for r in rows), rows
    assert [r["step"] for r in rows] == [name for name, _, _ in rehearse.STEPS]
    assert any("foundry-lab run " in c for c in rows[1]["commands"])
    assert any(c.startswith("foundry-lab model load ") for c in rows[4]["commands"])
    assert (tmp_path / "run" / "summary.csv").is_file() and (tmp_path / "run" / "report.html").is_file()
    assert done.returncode == (0 if all(r["verdict"] == "within" for r in rows) else 1)
    assert "| 1. load models via the CLI | 8 min |" in done.stdout


@pytest.mark.cli
@pytest.mark.parametrize("argv", [["rehearse", "--port", "70000"]])
def test_bad_port_is_refused(argv):
    done = subprocess.run([sys.executable, "-m", "helpers", *argv], cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "0 to 65535" in done.stderr


@pytest.mark.parametrize("seconds, shown", [(119.6, "2 min 00 s"), (9.4, "0 min 09 s"), (205.5, "3 min 26 s"), (0, "0 min 00 s")])
def test_wall_times_round_to_the_second_before_splitting(seconds, shown):
    # rehearsal of 2026-12-08: the benchmark step's 119.6 s was shown as "1 min 60 s"
    assert rehearse.minutes_seconds(seconds) == shown
