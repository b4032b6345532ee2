"""Code that is run, not matched (HumanEval-style: Chen et al. 2021, "Evaluating Large Language Models Trained on
Code"): the answer's code (`statements.code`) is run against the prompt's test cases (`config.CodeSpec`) in a child
process, and each case passes or fails.

The child (`sandbox_runner.py`) runs as `python -I -S` (isolated: no user site, no environment variables, no
current directory on the path) in a fresh temp dir with a minimal environment, with POSIX resource limits, an
audit hook that refuses network, subprocesses and files outside the temp dir, a timeout per case and one for the
whole run. It is a guard against accidents of generated code, not a security boundary against an attacker.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.config import CodeSpec
from . import statements

RUNNER = Path(__file__).with_name("sandbox_runner.py")
CASE_SECONDS = 2
STARTUP_SECONDS = 10


@dataclass(frozen=True)
class CodeResult:
    """The test cases of one answer: passed per case, the code that ran, and why a case failed."""

    code: str
    passed: list[bool]
    details: list[str]

    @property
    def pass_rate(self) -> float:
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


def run_code(code: str, spec: CodeSpec, case_seconds: int = CASE_SECONDS) -> CodeResult:
    """Run `code` against `spec.cases` in the sandbox; an empty code, a crash or a timeout fails every case."""
    n = len(spec.cases)
    if not code.strip():
        return CodeResult(code, [False] * n, ["no code found in the answer"] * n)
    nonce = secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="foundry-lab-code-") as tmp:
        folder = Path(tmp)
        (folder / "solution.py").write_text(code, encoding="utf-8")
        (folder / "cases.json").write_text(json.dumps([case.model_dump() for case in spec.cases]), encoding="utf-8")
        env = {"SANDBOX_NONCE": nonce, "SANDBOX_CASE_SECONDS": str(case_seconds), "PYTHONDONTWRITEBYTECODE": "1",
               "HOME": tmp, "TMPDIR": tmp, "PATH": ""}
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", str(RUNNER), "solution.py", "cases.json", spec.function],
                cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=STARTUP_SECONDS + case_seconds * (n + 1), check=False)
        except subprocess.TimeoutExpired:
            return CodeResult(code, [False] * n, ["timed out"] * n)
    marker = f"RESULT {nonce} "
    line = next((line for line in reversed(done.stdout.splitlines()) if line.startswith(marker)), None)
    if line is None:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1][:160]
        return CodeResult(code, [False] * n, [f"the test run failed: {reason}"] * n)
    results = json.loads(line[len(marker):])
    return CodeResult(code, [bool(r["passed"]) for r in results], [str(r["detail"]) for r in results])


def run_answer(answer: str, spec: CodeSpec) -> CodeResult:
    """Extract the answer's code (`statements.code`) and run it against the cases."""
    return run_code(statements.code(answer), spec)
