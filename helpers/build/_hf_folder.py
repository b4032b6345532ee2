"""A Hugging Face model folder made ready for onnxruntime-genai's builder: checked (architecture, tokenizer, context
length), given a chat template or turn format where it has none, its config flattened where the builder needs it,
staged (small files copied, large ones linked). Runs inside the converter venv, imported by `_convert_worker.py`."""
from __future__ import annotations

import re
import shutil
from contextlib import suppress
from importlib.util import find_spec
from pathlib import Path

from _convert_steps import StepError, emit, read_json, write_json

# Chat turn formats recognised by their special tokens, so a model without a chat template
# (e.g. a base model) can still be driven by a chat runtime.
TURN_FORMATS = {
    "gemma": {
        "start": "<start_of_turn>",
        "end": "<end_of_turn>",
        "template": (
            "{{ bos_token }}"
            "{%- if messages[0]['role'] == 'system' -%}"
            "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
            "{%- set loop_messages = messages[1:] -%}"
            "{%- else -%}"
            "{%- set first_user_prefix = '' -%}"
            "{%- set loop_messages = messages -%}"
            "{%- endif -%}"
            "{%- for message in loop_messages -%}"
            "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
            "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
            "{{ message['content'] | trim }}"
            "{{ '<end_of_turn>\n' }}"
            "{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
        ),
    },
    "chatml": {
        "start": "<|im_start|>",
        "end": "<|im_end|>",
        "template": (
            "{%- for message in messages -%}"
            "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
            "{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
        ),
    },
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
SMALL_FILE_BYTES = 64 * 1024 * 1024  # staged HF folders copy files below this size and link the rest


def builder_source() -> str:
    """The text of onnxruntime-genai's model builder (read, not imported: importing loads torch)."""
    spec = find_spec("onnxruntime_genai")
    return (Path(spec.origin).parent / "models" / "builder.py").read_text(encoding="utf-8")


def supported_architectures() -> list[str]:
    return sorted(set(re.findall(r'config\.architectures\[0\] == "(\w+)"', builder_source())))


def inspect_hf_folder(folder: Path, context_length: int) -> None:
    """Fail early, with advice, on what the builder cannot handle."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise StepError(f"{folder} has no config.json, so it is not a Hugging Face model folder.",
                        "Point to the folder that holds config.json, the weights (*.safetensors) and the tokenizer, "
                        "or to a .gguf file.")
    config = read_json(config_path)
    architecture = (config.get("architectures") or ["<none>"])[0]
    supported = supported_architectures()
    if architecture not in supported:
        raise StepError(f"architecture {architecture} is not supported by the onnxruntime-genai model builder.",
                        "Pick a model with one of these architectures: " + ", ".join(supported) + ".")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise StepError(f"{folder} has no tokenizer ({' or '.join(TOKENIZER_FILES)}).",
                        "Copy the tokenizer files of the same model (tokenizer.json, tokenizer_config.json) "
                        "into the folder.")
    maximum = config.get("max_position_embeddings") or config.get("text_config", {}).get("max_position_embeddings")
    if maximum and context_length > maximum:
        raise StepError(f"context length {context_length} exceeds the model's maximum ({maximum}).",
                        f"Use a context length of at most {maximum}.")


def chat_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    tokenizer_config = folder / "tokenizer_config.json"
    return read_json(tokenizer_config).get("chat_template") if tokenizer_config.is_file() else None


def turn_format(folder: Path) -> dict | None:
    """The known chat turn format whose special tokens this tokenizer has, with their token ids."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    vocabulary = tokenizer.get_vocab()
    for turn in TURN_FORMATS.values():
        if turn["start"] in vocabulary and turn["end"] in vocabulary:
            return {**turn, "end_id": vocabulary[turn["end"]]}
    return None


def flatten_layer_type_rope(config: dict) -> None:
    """transformers 5 nests RoPE settings per layer type; the builder expects the flat form plus
    `rope_local_base_freq` for the sliding-window layers (it collapses `rope_parameters` onto the config)."""
    rope = config.get("rope_parameters") or {}
    if "full_attention" not in rope:
        return
    flat = dict(rope["full_attention"])
    config["rope_theta"] = flat["rope_theta"]
    if "sliding_attention" in rope:
        flat["rope_local_base_freq"] = config["rope_local_base_freq"] = rope["sliding_attention"]["rope_theta"]
    config["rope_parameters"] = flat


def add_eos(config: dict, token_id: int) -> None:
    ids = config.get("eos_token_id")
    ids = [] if ids is None else ids if isinstance(ids, list) else [ids]
    if token_id not in ids:
        config["eos_token_id"] = [*ids, token_id]


def make_builder_ready(folder: Path) -> None:
    """Rewrite a (writable, our own) HF folder's small files so the builder and a chat runtime can use it."""
    config_path = folder / "config.json"
    config = read_json(config_path)
    flatten_layer_type_rope(config)
    template = chat_template(folder)
    turn = turn_format(folder)
    if template is None:
        if turn is None:
            raise StepError("the model has no chat template and its tokenizer has no known chat turn tokens "
                            f"({', '.join(TURN_FORMATS)}).",
                            "Add the model's chat template as chat_template.jinja in the model folder.")
        template = turn["template"]
        (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
        emit("NOTE", f"the model had no chat template: added the {turn['start']}...{turn['end']} one "
                     "its tokenizer's special tokens imply")
    if turn is not None and turn["end"] in template:
        add_eos(config, turn["end_id"])
        generation_path = folder / "generation_config.json"
        if generation_path.is_file():
            generation = read_json(generation_path)
            add_eos(generation, turn["end_id"])
            write_json(generation_path, generation)
    write_json(config_path, config)


def stage_hf_folder(source: Path, staged: Path) -> None:
    """A private view of the user's folder: small files copied (we may rewrite them), large ones linked
    (copied where links are not allowed)."""
    staged.mkdir(parents=True)
    for item in (p for p in source.iterdir() if p.is_file()):
        target = staged / item.name
        if item.stat().st_size >= SMALL_FILE_BYTES:
            with suppress(OSError):
                target.symlink_to(item.resolve())
        if not target.exists():
            shutil.copy2(item, target)
