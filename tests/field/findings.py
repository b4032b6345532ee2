"""The before -> after table of issue #10: every case run through `python -m helpers bench --endpoint` (the CLI).

`python -m tests.field.findings --label after --json /tmp/after.json` measures the kit on the import path (this
repository); with `PYTHONPATH=<folder holding an older helpers/, models.json, prompts.json>` the same command
measures that version (the fixture servers always come from this repository). `--merge before.json after.json`
prints the Markdown table case -> before -> after. Each case runs 3 rounds of one prompt (no warm-up) against its
scripted loopback server; the cells are medians over the successful trials.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..fixture_server import Script, serve
from .cases import BY_NAME, Case, scripted

ROUNDS = 3
COUNT_PROMPT = {"description": "one prompt", "prompts": [{"id": "count", "text": "Count."}]}
EXTRA_CASES = {  # cases measured only through the CLI (their right values need the benchmark protocol)
    "bom-prompts-file": ("10", "accepted (utf-8-sig)"),
    "prefix-cache-llamacpp": ("11", "TTFT 300 ms every round (cold prefill): cache_prompt false sent"),
    "prefix-cache-vllm": ("11", "TTFT 300 ms every round (cold prefill): per-round prefix defeats the cache"),
    "unreachable": ("-", "error names the URL"),
}


def _median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(numbers) if numbers else None


def _quality(out: Path, env: dict[str, str]) -> str:
    subprocess.run([sys.executable, "-m", "helpers", "report", str(out)], env=env, capture_output=True, timeout=300,
                   cwd=out.parent)
    scores = out / "quality_scores.csv"
    if not scores.is_file():
        return "no quality_scores.csv"
    import pandas as pd

    return f"facet score {pd.read_csv(scores)['facet_score'].mean():.1f}"


def cell(out: Path, exit_code: int, stderr: str) -> str:
    """One table cell: what the run reported for the case."""
    results = out / "results.jsonl"
    if not results.is_file():
        return f"exit {exit_code}: {stderr.strip().splitlines()[-1][:160] if stderr.strip() else 'no output'}"
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    model = next((r for r in records if r["type"] == "model"), {})
    trials = [r for r in records if r["type"] == "trial" and not r["warmup"]]
    ok = [t for t in trials if t["ok"]]
    parts = [f"{model.get('status', '?')}", f"{len(ok)}/{len(trials)} ok"]
    if model.get("error"):
        parts.append(f"load error: {model['error'][:120]}")
    metrics = [("ttft_any_ms", "first token {:.0f} ms"), ("ttft_ms", "TTFT {:.0f} ms"), ("tpot_ms", "TPOT {:.1f} ms"),
               ("decode_tps", "decode {:.0f} tok/s"), ("output_tokens", "{:.0f} tokens"),
               ("reasoning_tokens", "{:.0f} reasoning"), ("cached_tokens", "{:.0f} cached")]
    for key, text in metrics:
        value = _median([t.get(key) for t in ok])
        if value is not None and not (key == "ttft_any_ms" and value == _median([t.get("ttft_ms") for t in ok])):
            parts.append(text.format(value))
        elif key in ("tpot_ms", "decode_tps") and ok and value is None:
            parts.append(text.split(" {")[0] + " not measurable")  # `TPOT not measurable`, `decode not measurable`
    sources = sorted({t.get("tokens_source") for t in ok if t.get("tokens_source")})
    if sources:
        parts.append("source " + "+".join(sources))
    errors = sorted({t["error"][:140] for t in trials if t.get("error")})
    if errors:
        parts.append("error: " + errors[0])
    return ", ".join(parts)


@contextmanager
def _server(name: str) -> Iterator[tuple[str | None, Script | None]]:
    if name == "unreachable":
        with serve(Script()) as base_url:
            pass
        yield base_url, None
        return
    if name.startswith("prefix-cache"):
        script = Script(ttft_s=0.3, gap_s=0.02, tokens=20, prefix_cache=True,
                        honours_cache_prompt=name.endswith("llamacpp"))
    elif name == "bom-prompts-file":
        script = scripted()()
    else:
        script = BY_NAME[name].script()
    with serve(script) as base_url:
        yield base_url, script


def measure(name: str, env: dict[str, str], work: Path) -> str:
    case: Case | None = BY_NAME.get(name)
    out = work / name
    prompts = work / f"{name}.json"
    prompt_set = COUNT_PROMPT
    if name == "think-answer":
        from helpers.core.config import resolve_prompt_set

        slm = resolve_prompt_set("local-inference")[1].prompts[0]
        prompt_set = {"description": "the SLM question", "prompts": [slm.model_dump(mode="json")]}
    prompts.write_text(json.dumps(prompt_set), encoding="utf-8-sig" if name == "bom-prompts-file" else "utf-8")
    run_env = env | (case.env if case else {})
    with _server(name) as (base_url, script):
        command = [sys.executable, "-m", "helpers", "bench", "--endpoint", base_url,
                   "--models", script.model_id if script else "any-model", "--prompts", str(prompts),
                   "--rounds", str(ROUNDS), "--warmup", "0", "--out", str(out)]
        if case and not case.stream:
            command.append("--no-stream")
        # cwd outside the repository: `python -m` puts the cwd first on sys.path, which would shadow PYTHONPATH
        done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=300, cwd=work)
    text = cell(out, done.returncode, done.stderr)
    if name == "think-answer" and (out / "results.jsonl").is_file():
        text += ", " + _quality(out, run_env)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--json", help="write {case: cell} here")
    parser.add_argument("--cases", help="comma list (default: all)")
    parser.add_argument("--merge", nargs=2, metavar=("BEFORE", "AFTER"), help="print the table from two JSON files")
    args = parser.parse_args()
    names = [c.name for c in BY_NAME.values()] + list(EXTRA_CASES)
    if args.merge:
        before, after = (json.loads(Path(p).read_text()) for p in args.merge)
        print("| # | case | right value | before | after |\n|---|---|---|---|---|")
        for name in names:
            issue, right = (BY_NAME[name].issue, BY_NAME[name].right) if name in BY_NAME else EXTRA_CASES[name]
            print(f"| {issue} | {name} | {right} | {before.get(name, '–')} | {after.get(name, '–')} |")
        return
    env = {k: v for k, v in os.environ.items() if k not in ("FOUNDRY_LOCAL_API_KEY", "FOUNDRY_LOCAL_ENDPOINT")}
    env["FOUNDRY_LAB_PORT"] = "0"
    cells = {}
    with tempfile.TemporaryDirectory(prefix=f"field-{args.label}-") as work:
        for name in (args.cases.split(",") if args.cases else names):
            cells[name] = measure(name, env, Path(work))
            print(f"{name}: {cells[name]}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(cells, indent=1))


if __name__ == "__main__":
    main()
