"""What the kit's front door (helpers/serve/gateway.py: aliases, identification) costs a streamed request.

The same streamed chat request to SmolLM2 int4, alternately through the front (the URL the kit serves) and
straight to Foundry Local's web service behind it (ABBA order, so a drift of the machine hits both alike); prints
the medians of TTFT, e2e latency and decode rate on each path and the difference (front minus direct). Both paths
share the runtime, the loaded model and the client code: the difference is the extra loopback hop.

Run from the repository root: `python -m benchmarks.front_overhead [--requests 20] [--max-tokens 32]`.
"""
from __future__ import annotations

import argparse

import pandas as pd

from helpers.measure.timing import time_openai_chat
from helpers.serve import endpoints, runtime

MODEL = "smollm2-135m-instruct-int4"
MESSAGES = [{"role": "user", "content": "List three benefits of local inference."}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per path")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    rt = runtime.start(quiet=True)
    model, _ = runtime.get_model(MODEL, runtime=rt)
    runtime.load(model)
    paths = {"front": endpoints.openai_client(runtime.web_service_url(rt)),
             "direct": endpoints.openai_client(rt.manager.urls[0])}
    names = {"front": MODEL, "direct": model.id}  # the front takes the alias; the web service only the id
    for name, client in paths.items():  # warm-up: first requests load code and caches on both paths
        time_openai_chat(client, names[name], MESSAGES, max_tokens=args.max_tokens)
    rows = []
    for index in range(args.requests):
        order = ("front", "direct") if index % 2 == 0 else ("direct", "front")
        for name in order:
            trial = time_openai_chat(paths[name], names[name], MESSAGES, max_tokens=args.max_tokens)
            rows.append({"path": name, "ttft_ms": trial.ttft_ms, "e2e_ms": trial.e2e_ms, "decode_tps": trial.decode_tps,
                         "ok": trial.ok})
    runtime.unload(model)
    table = pd.DataFrame(rows)
    assert table["ok"].all(), table[~table["ok"]]
    medians = table.groupby("path")[["ttft_ms", "e2e_ms", "decode_tps"]].median()
    medians.loc["front - direct"] = medians.loc["front"] - medians.loc["direct"]
    print(f"{args.requests} streamed requests per path, {MODEL}, max_tokens {args.max_tokens} (medians):")
    print(medians.round(2).to_string())


if __name__ == "__main__":
    main()
