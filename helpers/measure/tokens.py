"""Counting output tokens with a model's own tokenizer, for servers that do not report usage.

Every model the kit builds or converts keeps its Hugging Face `tokenizer.json` in its folder under the kit home
(`.lab/models/<name>/`, `.lab/user-models/<name>/`); the `tokenizers` package reads it without transformers.
A served model is matched to a folder by its name or id (`smollm2-135m-instruct-int4:1` -> the folder
`smollm2-135m-instruct-int4`). Where the kit has no tokenizer for a model, callers fall back to counting streamed
chunks and say so (`tokens_source` = `chunks`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from ..core import paths

TOKENIZER_FILE = "tokenizer.json"


def tokenizer_path(model: str) -> Path | None:
    """The tokenizer.json of a built or converted model named `model` (or served under that id), if the kit has one."""
    name = model.split(":")[0].split("/")[-1]
    if not name or name.startswith("."):
        return None
    for root in (paths.bundled_models_dir(), paths.user_models_dir()):
        candidate = root / name / TOKENIZER_FILE
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=16)
def _load(path: Path, modified_ns: int) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def tokenizer_for(model: str) -> Tokenizer | None:
    """The model's tokenizer (loaded once per file version), or None when the kit has none for it."""
    path = tokenizer_path(model)
    return None if path is None else _load(path, path.stat().st_mtime_ns)


def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    """Tokens in generated `text`: no special tokens added (a BOS is not generated output)."""
    return len(tokenizer.encode(text, add_special_tokens=False).ids) if text else 0
