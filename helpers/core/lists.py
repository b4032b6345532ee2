"""Comma lists as the kit's flags and environment variables take them: `"a, b,,c"` -> `["a", "b", "c"]`.

Standard library only: `python -m helpers setup` parses its flags with it before the kit's environment exists.
"""
from __future__ import annotations

from collections.abc import Sequence


def comma_list(value: str | Sequence[str] | None) -> list[str]:
    """The items of a comma-separated string (or of a sequence of strings), stripped, empty items dropped.

    None or "" gives []. A sequence is taken item by item (its items are not split again).
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]
