"""How much does the benchmark harness add to what it measures? (target: at most 1% of e2e)

Times the same request four ways on the same loaded model, in the same process, interleaved (the order rotates
every iteration so drift hits every variant alike), N iterations:

- harness in-process: the benchmark's own path (`runners.InprocessRunner.chat` -> timing.time_inprocess_chat) with the peak-RSS
  sampler thread running, as during a benchmark;
- bare SDK: a fresh ChatSession and a plain streaming loop over foundry_local_sdk, nothing recorded;
- harness HTTP: the benchmark's path over the built-in web service (`runners.KitServiceRunner.chat`), sampler running;
- bare openai: a plain `client.chat.completions.create(stream=True)` loop against the same service.

Prints the e2e median of each variant and the overhead of each harness path over its bare twin: the median of
the paired per-iteration differences (with a bootstrap 95% CI), as % of the bare median. Temperature 0 and a fixed
seed make every answer the same length (checked). On a busy machine the model's own jitter hides a small
overhead, so the HTTP harness is also timed against an instant scripted server (tests/fixture_server.py, no model
time at all): there the whole e2e is client cost, and harness minus bare is the harness's own cost in ms. The
in-process harness adds only its per-token bookkeeping inside the timed loop (sorting an item into answer or
reasoning text, and the recorder's timestamp); that work is timed alone on a synthetic token and scaled to the
answer length.

Run from the repository root: `python -m benchmarks.harness_overhead [--model NAME] [--runs 30] [--max-tokens 32]`.
"""
from __future__ import annotations

import argparse
import os
import time
import timeit
from collections.abc import Callable

import numpy as np
from foundry_local_sdk import ChatSession, MessageItem, Request, RequestOptions, SearchOptions, TextItem

from helpers.bench.memory import PeakRssSampler
from helpers.bench.settings import Generation
from helpers.bench.targets import timed_chat
from helpers.core.config import resolve_prompt_set
from helpers.measure.recorder import TrialRecorder
from helpers.measure.stats import median_ci95
from helpers.measure.timing import record_sdk_text
from helpers.serve import endpoints, runtime
from helpers.serve.runners import InprocessRunner, KitServiceRunner, OpenAIServerRunner, Runner
from tests.fixture_server import Script, serve

SEED = 42


def bare_sdk(model: object, text: str, max_tokens: int) -> tuple[float, int]:
    """e2e seconds and non-empty text items of a plain SDK streaming request."""
    with ChatSession(model) as session, Request() as request:
        request.add_item(MessageItem.user(text))
        session.set_options(RequestOptions(search=SearchOptions(temperature=0.0, max_output_tokens=max_tokens, seed=SEED)))
        session.set_streaming(True)
        started = time.perf_counter()
        with session.process_streaming_request(request) as items:
            count = sum(1 for item in items if isinstance(item, TextItem) and item.text)
            return time.perf_counter() - started, count


def bare_openai(client: object, model_id: str, text: str, max_tokens: int) -> tuple[float, int]:
    """e2e seconds and content chunks of a plain openai streaming request."""
    started = time.perf_counter()
    with client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": text}],
                                        max_tokens=max_tokens, temperature=0.0, seed=SEED, stream=True,
                                        stream_options={"include_usage": True}) as chunks:
        count = sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].delta.content)
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct-int4")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    rt = runtime.start(quiet=True)
    model, choice = runtime.get_model(args.model, runtime=rt)
    client = endpoints.openai_client(runtime.web_service_url(rt))
    local, over_http = InprocessRunner(model, choice, rt), KitServiceRunner(model, choice, rt, client)
    over_http.load()  # loads in-process (serves both paths) and resolves the HTTP model id
    text = resolve_prompt_set("smoke")[1].prompts[0].text
    messages = [{"role": "user", "content": text}]
    generation = Generation(args.max_tokens, 0.0, SEED, True)

    def harness(runner: Runner) -> tuple[float, int]:
        sampler = PeakRssSampler(os.getpid()).start()
        try:
            timing = timed_chat(runner, messages, generation)
        finally:
            sampler.stop()
        assert timing.ok, timing.error
        return timing.e2e_s, len(timing.token_times)

    e2e = interleave({
        "harness in-process": lambda: harness(local),
        "bare SDK": lambda: bare_sdk(model, text, args.max_tokens),
        "harness HTTP": lambda: harness(over_http),
        "bare openai": lambda: bare_openai(client, over_http.model_id, text, args.max_tokens),
    }, args.runs)
    runtime.unload(model)
    per_token_us = inprocess_work_per_token_us()
    print(f"{args.model}, {args.runs} interleaved runs per variant, max_tokens {args.max_tokens}, temperature 0, seed {SEED}")
    report(e2e, (("harness in-process", "bare SDK"), ("harness HTTP", "bare openai")))
    per_request_ms = per_token_us * args.max_tokens / 1000
    print(f"in-process harness work inside the timed loop: {per_token_us:.2f} us per token, {per_request_ms:.3f} ms "
          f"per {args.max_tokens}-token answer = {100 * per_request_ms / np.median(e2e['bare SDK']):.4f}% of the "
          f"bare SDK median e2e")

    script = Script(ttft_s=0.0, gap_s=0.0, tokens=args.max_tokens)
    with serve(script) as url:
        instant_client = endpoints.openai_client(url)
        instant = OpenAIServerRunner(script.model_id, url, instant_client)
        instant_e2e = interleave({
            "harness HTTP": lambda: harness(instant),
            "bare openai": lambda: bare_openai(instant_client, script.model_id, text, args.max_tokens),
        }, args.runs * 4)
    print(f"\ninstant scripted server ({args.max_tokens} tokens, no model time), {args.runs * 4} interleaved runs")
    report(instant_e2e, (("harness HTTP", "bare openai"),))
    cost = np.median(np.subtract(instant_e2e["harness HTTP"], instant_e2e["bare openai"]))
    print(f"HTTP harness cost {cost:+.2f} ms = {100 * cost / np.median(e2e['bare openai']):+.3f}% of the model's "
          f"median HTTP e2e ({np.median(e2e['bare openai']):.0f} ms)")


def inprocess_work_per_token_us(tokens: int = 200_000) -> float:
    """What `time_inprocess_chat` does per streamed item while the clock runs, timed alone (microseconds)."""
    item, recorder = TextItem("tok"), TrialRecorder(streamed=True)
    recorder.begin()

    def per_item() -> None:
        record_sdk_text(item, recorder)

    return min(timeit.repeat(per_item, number=tokens, repeat=3)) / tokens * 1e6


def interleave(variants: dict[str, Callable[[], tuple[float, int]]], runs: int) -> dict[str, list[float]]:
    """e2e ms of every variant, run in a rotating order; each is warmed once first and must stream equal lengths."""
    names = list(variants)
    for name in names:
        variants[name]()
    e2e: dict[str, list[float]] = {name: [] for name in names}
    lengths: set[int] = set()
    for iteration in range(runs):
        for name in names[iteration % len(names):] + names[: iteration % len(names)]:
            seconds, count = variants[name]()
            e2e[name].append(seconds * 1000)
            lengths.add(count)
    if len(lengths) != 1:
        print(f"warning: answers differ in length between runs ({sorted(lengths)} chunks)")
    return e2e


def report(e2e: dict[str, list[float]], pairs: tuple[tuple[str, str], ...]) -> None:
    print(f"{'variant':<20} {'e2e median ms':>14} {'IQR ms':>8}")
    for name, values in e2e.items():
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        print(f"{name:<20} {median:>14.2f} {q3 - q1:>8.2f}")
    for harness_name, bare_name in pairs:
        paired = np.subtract(e2e[harness_name], e2e[bare_name])
        low, high = median_ci95(paired)
        base = np.median(e2e[bare_name])
        print(f"overhead {harness_name} vs {bare_name}: median paired difference {np.median(paired):+.2f} ms "
              f"(95% CI {low:+.2f} to {high:+.2f}) = {100 * np.median(paired) / base:+.2f}% of e2e "
              f"(CI {100 * low / base:+.2f}% to {100 * high / base:+.2f}%)")


if __name__ == "__main__":
    main()
