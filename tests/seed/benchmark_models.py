#!/usr/bin/env python3
"""Stand-in for the workshop's Session 3 script `samples/03-oss-models/benchmark_models.py`.

The Foundry Local workshop (microsoft/edgeai-for-beginners, Workshop/Session03-OpenSourceModels.md) has attendees
create this script and run it against Foundry Local. Its client behaviour is reproduced here call for call (the
text is written for the kit, not copied): the `openai` client with the fixed base URL http://localhost:5273/v1 and
a placeholder key, models named by ALIAS, ROUNDS non-streamed chat requests per model with max_tokens=150 and
temperature 0.2, latency with time.time(), "tokens/s" as usage.total_tokens / latency, p95 with
statistics.quantiles, and a JSON summary printed to stdout. Its measurement mistakes are kept on purpose (they are
the seed's; the kit's benchmark is the corrected version): the test only checks that it runs against the kit.

As in the workshop, attendees edit only MODELS.
"""
import json
import statistics
import time

from openai import OpenAI

MODELS = [
    "smollm2-135m-instruct-int4",
    "smollm2-135m-instruct-int8",
]

PROMPT = "Explain the principle of retrieval augmented generation in 2 sentences."
ROUNDS = 3

client = OpenAI(base_url="http://localhost:5273/v1", api_key="not-needed")


def one_request(model):
    began = time.time()
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=150,
        temperature=0.2,
        stream=False,
    )
    took = time.time() - began
    usage = getattr(answer, "usage", None)
    tokens = usage.total_tokens if usage else None
    return {
        "latency_sec": took,
        "total_tokens": tokens,
        "tokens_per_sec": tokens / took if tokens and took > 0 else None,
        "sample_response": answer.choices[0].message.content[:160].replace("\n", " "),
    }


def summarize(model):
    runs = [one_request(model) for _ in range(ROUNDS)]
    latencies = [run["latency_sec"] for run in runs]
    rates = [run["tokens_per_sec"] for run in runs if run["tokens_per_sec"]]
    return {
        "model": model,
        "rounds": ROUNDS,
        "latency_avg": statistics.mean(latencies),
        "latency_p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0],
        "tokens_per_sec_avg": statistics.mean(rates) if rates else None,
        "sample": runs[-1]["sample_response"],
    }


def main():
    print(json.dumps([summarize(model) for model in MODELS], indent=2))
    print("\nInterpretation Tips:\n- latency_avg: lower better\n- tokens_per_sec_avg: higher better"
          "\n- Compare quality manually on sample outputs.")


if __name__ == "__main__":
    main()
