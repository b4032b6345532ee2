"""The bare onnxruntime-genai loop: the reference engine of `thread_sweep.py`, without Foundry Local around it.

Runs in the converter environment (`.lab/convert-venv`, which has the `onnxruntime_genai` Python package, the same
0.18 the kit's runtime carries). Loads one model folder with `intra_op_num_threads` set through `Config.overlay`
(the folder is not changed), applies the chat template, then for each request: prefill (`append_tokens`) and greedy
decoding up to `--max-tokens`, with the KV cache sized to the model's `search.max_length` like Foundry Local's
in-process session. Prints one JSON line per request: warmup, ttft_ms (prefill + first token), decode_tps
((tokens − 1) / time after the first token), output_tokens.

    python _genai_loop.py FOLDER --threads 2 --requests 2 --warmup 1 --max-tokens 64 --prompt TEXT
"""
from __future__ import annotations

import argparse
import json
import time

import onnxruntime_genai as og


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--requests", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt", required=True)
    args = parser.parse_args()

    config = og.Config(args.folder)
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": args.threads}}}}))
    model = og.Model(config)
    tokenizer = og.Tokenizer(model)
    text = tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": args.prompt}]),
                                         add_generation_prompt=True)
    tokens = tokenizer.encode(text)
    for index in range(args.warmup + args.requests):
        params = og.GeneratorParams(model)
        params.set_search_options(do_sample=False)
        generator = og.Generator(model, params)
        started = time.perf_counter()
        generator.append_tokens(tokens)
        first, count = None, 0
        while not generator.is_done() and count < args.max_tokens:
            generator.generate_next_token()
            count += 1
            first = first or time.perf_counter()
        ended = time.perf_counter()
        del generator
        decode = (count - 1) / (ended - first) if count > 1 and ended > first else None
        print(json.dumps({"warmup": index < args.warmup, "ttft_ms": (first - started) * 1e3 if first else None,
                          "decode_tps": decode, "output_tokens": count}), flush=True)


if __name__ == "__main__":
    main()
