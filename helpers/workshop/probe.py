"""Notebook 03's probe: load each model, time a cold and a warm first response, ask every prompt of a set.

One model at a time (loaded, probed, unloaded before the next, so they never share memory), with progress per
model and per answer (`core.progress`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ..core.progress import steps
from ..measure.timing import time_inprocess_chat
from ..serve import runtime

if TYPE_CHECKING:
    from ..core.config import Prompt, PromptSet


@dataclass
class Probe:
    """`starts`: per model load_s, cold_ttft_ms, warm_ttft_ms, cold_minus_warm_ms (cold - warm, same prompt).
    `answers`: per model x prompt: model, prompt_id, text, ttft_ms, decode_tps, output_tokens, finish_reason, error."""

    starts: pd.DataFrame
    answers: pd.DataFrame


def messages(prompt_set: PromptSet, prompt: Prompt) -> list[dict[str, str]]:
    """The messages for one prompt of the set: its system prompt, if any, then the prompt."""
    return ([{"role": "system", "content": prompt_set.system}] if prompt_set.system else []) + [
        {"role": "user", "content": prompt.text}]


def probe(models: list[str], prompt_set: PromptSet, max_tokens: int,
          rt: runtime.LabRuntime | None = None) -> Probe:
    """Load each model, ask the set's first prompt once (cold), then every prompt (the first one again: warm)."""
    rt = rt or runtime.start()
    prompts = list(prompt_set.prompts)
    first = prompts[0]
    starts, answers = [], []
    with steps(len(models) * (len(prompts) + 2), "probe") as bar:
        for name in models:
            bar.doing(name, "loading")
            model, _ = runtime.get_model(name, runtime=rt)
            load_s = runtime.load(model)
            bar.done()
            bar.doing(name, f"cold request: {first.id}")
            cold = time_inprocess_chat(model, messages(prompt_set, first), max_tokens=max_tokens)
            bar.done()
            timings = {}
            for number, prompt in enumerate(prompts, 1):
                bar.doing(name, f"answer {number}/{len(prompts)}: {prompt.id}")
                timings[prompt.id] = time_inprocess_chat(model, messages(prompt_set, prompt), max_tokens=max_tokens)
                bar.done()
            runtime.unload(model)
            warm = timings[first.id]
            starts.append({"model": name, "load_s": load_s, "cold_ttft_ms": cold.ttft_ms, "warm_ttft_ms": warm.ttft_ms,
                           "cold_minus_warm_ms": (cold.ttft_ms - warm.ttft_ms
                                                  if cold.ttft_ms is not None and warm.ttft_ms is not None else None)})
            answers += [{"model": name, "prompt_id": prompt_id, "text": t.text.strip(), "ttft_ms": t.ttft_ms,
                         "decode_tps": t.decode_tps, "output_tokens": t.output_tokens,
                         "finish_reason": t.finish_reason, "error": t.error} for prompt_id, t in timings.items()]
    return Probe(pd.DataFrame(starts), pd.DataFrame(answers))
