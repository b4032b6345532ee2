"""`foundry-lab rehearse`: the 30-minute live path, run headless end to end, each step timed against its slot.

The session's flow is 8 + 5 + 8 + 5 + 4 minutes (`STEPS`): load models via the CLI, run and probe, the
benchmark, compare, the starter project. Each step runs the exact commands the runbook (notebooks/INSTRUCTOR.md)
gives, as an attendee's terminal would (`python -m helpers …` subprocesses, and HTTP requests to the server the
first step starts), on the bundled models. A step's time is the wall time of its commands only (talking and
typing come on top): the slot minus it is what is left to explain.

Writes into `--out` (default reports/rehearsal): the benchmark run (also the pre-computed run to show when a step
is too slow live), `rehearsal.json` and `rehearsal.md` (the table) and `rehearsal.log` (every command's output).
Exit status 1 when a step failed or overran its slot. `--quick` checks the path in a few minutes (a smoke
benchmark of one model, no judge): its times are not the session's.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..bench.results import SUMMARY_CSV
from ..core import paths
from ..core.config import load_models

PROMPT = "List three benefits of local inference."
QUICK_BENCH = ("--prompts", "smoke", "--rounds", "1", "--warmup", "1", "--max-tokens", "16")  # --quick: a smoke test
SERVE_START_S = 300.0
COMMAND_TIMEOUT_S = 1800.0


@dataclass
class StepResult:
    """One step of the path: its slot and measured wall time (seconds), ok, and the commands it ran."""

    step: str
    slot_s: float
    wall_s: float = 0.0
    ok: bool = True
    error: str = ""
    commands: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "FAILED" if not self.ok else "OVER" if self.wall_s > self.slot_s else "within"


class Rehearsal:
    """The state the steps share: the run folder, the server's port and process, the log."""

    def __init__(self, out: Path, port: int, models: list[str], quick: bool = False) -> None:
        self.out, self.port, self.models, self.quick = out, port, models, quick
        self.env = {**{k: v for k, v in os.environ.items() if k != "FOUNDRY_LOCAL_ENDPOINT"}, "FOUNDRY_LAB_PORT": str(port)}
        self.server: subprocess.Popen | None = None
        self.log = (out / "rehearsal.log").open("w", encoding="utf-8")
        self.current: StepResult | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Run `foundry-lab ARGS` to completion; its stdout. RuntimeError with its last lines when it fails."""
        self._note(f"foundry-lab {shlex.join(args)}")
        done = subprocess.run([sys.executable, "-m", "helpers", *args], cwd=paths.REPO_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        self.log.write(done.stdout + done.stderr + "\n")
        if done.returncode != 0:
            raise RuntimeError(f"`foundry-lab {shlex.join(args)}` exited {done.returncode}: "
                               + (done.stderr.strip().splitlines() or ["no output"])[-1][:300])
        return done.stdout

    def start_server(self) -> None:
        """`foundry-lab server start --models …` in the background; returns once it serves."""
        command = ["server", "start", "--models", ",".join(self.models), "--port", str(self.port)]
        self._note(f"foundry-lab {shlex.join(command)}")  # stays running until the rehearsal ends
        self.server = subprocess.Popen([sys.executable, "-m", "helpers", *command], cwd=paths.REPO_ROOT, env=self.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + SERVE_START_S
        while time.monotonic() < deadline:
            line = self.server.stdout.readline()
            if not line:
                raise RuntimeError("`foundry-lab server start` exited before serving (see rehearsal.log)")
            self.log.write(line)
            if line.startswith("Serving OpenAI-compatible API at "):
                return
        raise RuntimeError(f"`foundry-lab server start` did not serve within {SERVE_START_S:.0f} s")

    def http(self, path: str, body: dict | None = None) -> dict:
        """GET (or POST JSON) to the server, like the session's curl; the parsed reply."""
        self._note(f"curl {self.url}{path}" + (" -d '…'" if body else ""))
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=COMMAND_TIMEOUT_S) as reply:
            answer = json.load(reply)
        self.log.write(json.dumps(answer)[:2000] + "\n")
        return answer

    def _note(self, command: str) -> None:
        self.log.write(f"\n$ {command}\n")
        self.log.flush()
        if self.current is not None:
            self.current.commands.append(command)

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()
        self.log.close()


def _load_models(r: Rehearsal) -> None:
    r.cli("model", "list")
    r.cli("model", "info", r.models[-1])
    r.start_server()
    r.cli("server", "status")


def _run_and_probe(r: Rehearsal) -> None:
    r.cli("run", r.models[0], "--prompt", PROMPT, "--max-tokens", "64")
    listed = [m["id"] for m in r.http("/v1/models")["data"]]
    missing = set(r.models) - set(listed)
    if missing:
        raise RuntimeError(f"/v1/models does not list {', '.join(sorted(missing))}")
    reply = r.http("/v1/chat/completions", {"model": r.models[-1], "max_tokens": 64,
                                            "messages": [{"role": "user", "content": PROMPT}]})
    if not reply["choices"][0]["message"]["content"].strip():
        raise RuntimeError(f"{r.models[-1]} answered nothing over HTTP")


def _benchmark(r: Rehearsal) -> None:
    r.cli("bench", "--out", str(r.out / "run"), *QUICK_BENCH, "--models", r.models[0]) if r.quick \
        else r.cli("bench", "--out", str(r.out / "run"))


def _compare(r: Rehearsal) -> None:
    r.cli("report", str(r.out / "run"), *(("--judge", "none") if r.quick else ()))


def _starter_project(r: Rehearsal) -> None:
    decision = r.cli("route", "chat,summarize", "--summary", str(r.out / "run" / SUMMARY_CSV))
    routed = re.match(r"-> (\S+):", decision.strip())
    if routed is None:
        raise RuntimeError(f"route picked no model: {decision.strip()[:300]}")
    chosen = routed.group(1)
    r.cli("model", "load", chosen)
    reply = r.http("/v1/chat/completions", {"model": chosen, "max_tokens": 64, "messages": [
        {"role": "system", "content": "You summarize meeting notes in one sentence."},
        {"role": "user", "content": "Notes: ship the offline demo Friday; Ana owns the slides; budget approved."}]})
    if not reply["choices"][0]["message"]["content"].strip():
        raise RuntimeError(f"the starter project's call to {chosen} answered nothing")


# (name, slot in minutes, what runs): the session's 8 + 5 + 8 + 5 + 4 minutes
STEPS: list[tuple[str, float, Callable[[Rehearsal], None]]] = [
    ("1. load models via the CLI", 8, _load_models),
    ("2. run and probe", 5, _run_and_probe),
    ("3. the benchmark", 8, _benchmark),
    ("4. compare", 5, _compare),
    ("5. starter project", 4, _starter_project),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rehearse(out: Path, port: int, models: list[str] | None = None, quick: bool = False) -> list[StepResult]:
    """Run every step in order (a failed step does not stop the next ones, which may fail in turn). `quick`: the
    benchmark is a smoke test (QUICK_BENCH, the first model) and the report has no judge: checks the path works,
    its times are not the session's."""
    out.mkdir(parents=True, exist_ok=True)
    chosen = models or load_models().defaults["offline"][:2]
    rehearsal = Rehearsal(out, port or free_port(), chosen, quick)
    results = []
    try:
        for name, minutes, run in STEPS:
            result = rehearsal.current = StepResult(name, minutes * 60)
            started = time.perf_counter()
            try:
                run(rehearsal)
            except Exception as exc:  # noqa: BLE001 - a failed step is a row of the table
                result.ok, result.error = False, str(exc)[:400]
            result.wall_s = time.perf_counter() - started
            results.append(result)
            print(f"{name}: {result.wall_s:.0f} s of {result.slot_s:.0f} s ({result.verdict})"
                  + (f": {result.error}" if result.error else ""), flush=True)
    finally:
        rehearsal.close()
    return results


def minutes_seconds(seconds: float) -> str:
    """A wall time as "M min SS s", rounded to the second first (119.6 s is "2 min 00 s", never "1 min 60 s")."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def table(results: list[StepResult]) -> str:
    """The rehearsal as a Markdown table (step, slot, measured, share of the slot, verdict, commands)."""
    lines = ["| step | slot | measured | of the slot | verdict | commands |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r.step} | {r.slot_s / 60:.0f} min | {minutes_seconds(r.wall_s)} | "
              f"{r.wall_s / r.slot_s:.0%} | {r.verdict}{': ' + r.error if r.error else ''} | "
              + "<br>".join(f"`{c}`" for c in r.commands) + " |" for r in results]
    total = sum(r.wall_s for r in results)
    lines.append(f"| total | {sum(r.slot_s for r in results) / 60:.0f} min | {minutes_seconds(total)} | "
                 f"{total / sum(r.slot_s for r in results):.0%} | | |")
    return "\n".join(lines)


def main(out: str | None, port: int, models: list[str] | None, quick: bool = False) -> int:
    """CLI entry: rehearse, print and write the table; exit 1 when a step failed or overran its slot."""
    folder = Path(out) if out else paths.REPO_ROOT / "reports" / "rehearsal"
    results = rehearse(folder, port, models, quick)
    text = table(results)
    (folder / "rehearsal.md").write_text(text + "\n", encoding="utf-8")
    (folder / "rehearsal.json").write_text(json.dumps([{**asdict(r), "verdict": r.verdict} for r in results],
                                                      indent=2) + "\n", encoding="utf-8")
    print("\n" + text)
    print(f"\nwritten: {folder / 'rehearsal.md'}, rehearsal.json, rehearsal.log; the benchmark run: {folder / 'run'}")
    return 0 if all(r.verdict == "within" for r in results) else 1
