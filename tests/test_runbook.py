"""The instructor runbook (notebooks/INSTRUCTOR.md): every `foundry-lab` command it gives is one the kit accepts,
its five slots are the rehearsal's, and the notebook sections it points to exist."""
from __future__ import annotations

import argparse
import json
import re
import shlex

import pytest

from helpers import __main__ as cli
from helpers.core import paths
from helpers.workshop import rehearse

RUNBOOK = paths.REPO_ROOT / "notebooks" / "INSTRUCTOR.md"
TEXT = RUNBOOK.read_text(encoding="utf-8")
COMMANDS = sorted({c for c in re.findall(r"`(?:\.venv/bin/)?foundry-lab ([^`]+)`", TEXT)})


def test_the_runbook_gives_commands():
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_of_the_runbook_parses(command, monkeypatch):
    placeholders = {"MODEL": "x", "JOIN": "x", "PORT": "0"}
    argv = [placeholders.get(part, part) for part in shlex.split(command)]
    parsed = {}

    def stop(args):
        parsed["args"] = args
        raise SystemExit(0)

    strict = argparse.ArgumentParser.parse_args  # unknown flags fail, as on the command line
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args",
                        lambda self, args=None, namespace=None: stop(strict(self, args, namespace)))
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 0 and parsed["args"].verb, command


def test_the_slots_are_the_rehearsals():
    headings = re.findall(r"^### (\d)\. .+ \((\d+) min\)$", TEXT, flags=re.MULTILINE)
    assert [(int(n), float(m)) for n, m in headings] == [(i + 1, minutes) for i, (_, minutes, _) in
                                                          enumerate(rehearse.STEPS)]


def test_the_notebook_sections_it_names_exist():
    for notebook, sections in re.findall(r"\| (0\d) (§ .+?) \|", TEXT):
        path = next(paths.REPO_ROOT.joinpath("notebooks").glob(f"{notebook}_*.ipynb"))
        headings = [line for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
                    if cell["cell_type"] == "markdown" for line in "".join(cell["source"]).splitlines()
                    if line.startswith("## ")]
        for number, title in re.findall(r"§ (\d) \"([^\"]+)\"", sections):
            assert any(h.startswith(f"## {number}. {title}") for h in headings), (notebook, number, title, headings)
