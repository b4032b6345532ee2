"""Reasoning text inside answer content: the `<think>…</think>` convention of DeepSeek-R1 and its distills.

Reasoning models put their chain of thought either in a separate field (`reasoning_content`, `reasoning`; the
Foundry Local SDK's TextItemType.REASONING), which the callers keep apart themselves, or inline in the answer
content between `<think>` and `</think>`. Some chat templates (DeepSeek-R1 distills) open the block in the prompt,
so the generated text holds only the closing tag: text before a `</think>` that has no opening tag is reasoning.

`split_pieces` labels streamed pieces (so a piece's arrival time can count as a reasoning or an answer token, even
when a tag is split across pieces); `visible_answer` is what a reader of the answer sees.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_TAG = re.compile(re.escape(THINK_OPEN) + "|" + re.escape(THINK_CLOSE))


def _reasoning_mask(text: str) -> list[bool]:
    """Per character of `text`: True for reasoning (tags included), False for answer."""
    first_tag = _TAG.search(text)
    in_think = first_tag is not None and first_tag.group() == THINK_CLOSE  # opened by the chat template
    mask, position = [], 0
    for tag in _TAG.finditer(text):
        mask += [in_think] * (tag.start() - position) + [True] * len(tag.group())
        in_think, position = tag.group() == THINK_OPEN, tag.end()
    return mask + [in_think] * (len(text) - position)


def split_pieces(pieces: Sequence[str]) -> list[tuple[str, str]]:
    """(answer, reasoning) of each piece of one generated text, by the `<think>` blocks of the whole text.

    An unclosed `<think>` makes the rest reasoning (the answer was cut by max_tokens while thinking).
    """
    mask = _reasoning_mask("".join(pieces))
    labelled, offset = [], 0
    for piece in pieces:
        flags = mask[offset:offset + len(piece)]
        labelled.append(("".join(c for c, r in zip(piece, flags) if not r),
                         "".join(c for c, r in zip(piece, flags) if r)))
        offset += len(piece)
    return labelled


def visible_answer(text: str) -> str:
    """The text without its reasoning blocks and tags, stripped: what quality scoring and a reader should see."""
    return split_pieces([text])[0][0].strip()
