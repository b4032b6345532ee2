"""Sentences about a run, computed from a table on screen and checkable after the notebook ran.

A notebook never hard-codes a measured figure or ordering: it shows a table (`cells.show(frame, key=...)`) and
states what the table says through one of these functions. Each returns a `Claim`, displayed as its sentence and
carrying what it states (`CLAIM_MIME`): the table's key, the column, the values as stated and, for a ranking, the
order. `problems(notebook)` re-reads an executed notebook's outputs and checks every claim against the table it
names, as that table was displayed; `prose_problems(notebook)` finds figures and orderings written into markdown.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .cells import TABLE_MIME, Table, cell

CLAIM_MIME = "application/vnd.foundry-lab.claim+json"


@dataclass
class Claim:
    """One sentence and what it states about table `table`: `values` (row label -> value) of `column`, `order` (a
    prefix of the rows sorted by `column`, `descending` or not), and rows stated `above` / `not_above` zero."""

    text: str
    table: str
    column: str
    label: str = "model"
    values: dict[str, float | None] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    descending: bool = True
    above: list[str] = field(default_factory=list)
    not_above: list[str] = field(default_factory=list)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": self.text, "text/markdown": self.text, CLAIM_MIME: asdict(self)}


def _column(table: Table, column: str, label: str) -> dict[str, float | None]:
    if table.key is None:
        raise ValueError("a claim needs a table shown with a key: cells.show(frame, key=...)")
    values = {}
    for row in table.records():
        value = row.get(column)
        values[str(row[label])] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    return values


def ranking(table: Table, column: str, what: str, *, label: str = "model", descending: bool = True,
            top: int | None = None) -> Claim:
    """"{what}, highest first: A (5.51 s) > B (1.2 s) > C (0.41 s)." (`top`: only the first rows); rows without a
    value are named as such."""
    values = _column(table, column, label)
    known = sorted((name for name, v in values.items() if v is not None), key=lambda n: values[n], reverse=descending)
    shown = known[:top] if top else known
    unit = table.unit(column)
    parts = [f"{name} ({cell(values[name], unit)})" for name in shown]
    text = f"{what}, {'highest' if descending else 'lowest'} first: " + " > ".join(parts) if descending \
        else f"{what}, lowest first: " + " < ".join(parts)
    missing = [name for name, v in values.items() if v is None]
    text += "." + (f" No value for {', '.join(missing)}." if missing else "")
    return Claim(text, table.key, column, label, {n: values[n] for n in shown}, shown, descending)


def extreme(table: Table, column: str, what: str, *, label: str = "model", highest: bool = True) -> Claim:
    """"{what}: A (5.51 s)." for the row with the highest (or lowest) value of `column`."""
    values = _column(table, column, label)
    known = [n for n, v in values.items() if v is not None]
    if not known:
        return Claim(f"{what}: no model has a value for {column} in this run.", table.key, column, label)
    name = (max if highest else min)(known, key=lambda n: values[n])
    return Claim(f"{what}: {name} ({cell(values[name], table.unit(column))}).", table.key, column, label,
                 {name: values[name]}, [name], highest)


def signs(table: Table, column: str, above: str, not_above: str, *, label: str = "model") -> Claim:
    """Rows whose `column` is above zero and rows where it is not, each with its value: "{above}: A (+12 ms);
    {not_above}: B (-7.8 ms).\""""
    values = _column(table, column, label)
    unit = table.unit(column)
    up = [n for n, v in values.items() if v is not None and v > 0]
    down = [n for n, v in values.items() if v is not None and v <= 0]

    def listed(names: list[str]) -> str:
        return ", ".join(f"{n} ({'+' if values[n] > 0 else ''}{cell(values[n], unit)})" for n in names) or "none"

    text = f"{above}: {listed(up)}; {not_above}: {listed(down)}."
    return Claim(text, table.key, column, label, {n: values[n] for n in up + down}, above=up, not_above=down)


# --- checking an executed notebook ------------------------------------------------------------------------------

def _outputs(notebook: Mapping[str, Any], mime: str) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for index, cell_ in enumerate(notebook["cells"]):
        for output in cell_.get("outputs", []) if cell_.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if mime in data:
                found.append((index, data[mime]))
    return found


def problems(notebook: Mapping[str, Any]) -> list[str]:
    """Every claim of an executed notebook (nbformat dict) that its table, as displayed before it, contradicts:
    a missing table or row, a stated value that is not the table's, an order that is not the table's, a sign
    that is wrong, or a figure the sentence does not show as the table formats it. Empty when all hold."""
    tables: dict[str, tuple[int, dict[str, Any]]] = {}
    found = []
    events = sorted([(i, 0, d) for i, d in _outputs(notebook, TABLE_MIME)] +
                    [(i, 1, d) for i, d in _outputs(notebook, CLAIM_MIME)], key=lambda e: (e[0], e[1]))
    for index, kind, data in events:
        if kind == 0:
            tables[data["key"]] = (index, data)
            continue
        where = f"cell {index}: {data['text']!r}"
        if data["table"] not in tables:
            found.append(f"{where} names table {data['table']!r}, which no earlier output shows")
            continue
        table = tables[data["table"]][1]
        unit = table["units"].get(data["column"], "")
        actual = {str(row[data["label"]]): row.get(data["column"]) for row in table["rows"]}
        for name, stated in data["values"].items():
            if name not in actual:
                found.append(f"{where} names {name}, not a row of table {data['table']!r}")
            elif not _same(stated, actual[name]):
                found.append(f"{where} states {name} {data['column']}={stated}, the table shows {actual[name]}")
            elif stated is not None and cell(stated, unit) not in data["text"]:
                found.append(f"{where} does not show {name}'s {cell(stated, unit)} as the table formats it")
        known = [n for n, v in actual.items() if v is not None]
        ranked = sorted(known, key=lambda n: actual[n], reverse=data["descending"])
        order = data["order"]
        if order and [actual.get(n) for n in order] != [actual[n] for n in ranked[:len(order)]]:
            found.append(f"{where} orders {order}; by the table it is {ranked[:len(order)]}")
        for name in data["above"]:
            if actual.get(name) is None or actual[name] <= 0:
                found.append(f"{where} says {name} is above zero; the table shows {actual.get(name)}")
        for name in data["not_above"]:
            if actual.get(name) is None or actual[name] > 0:
                found.append(f"{where} says {name} is not above zero; the table shows {actual.get(name)}")
    return found


def _same(stated: float | None, actual: object) -> bool:
    if stated is None or actual is None:
        return stated is None and actual is None
    return math.isclose(float(stated), float(actual), rel_tol=1e-9, abs_tol=1e-9)


# A measured figure (a number with a unit of speed, time, memory) or an ordering, written into prose. The
# workshop's durations ("about 10 minutes") and configuration figures are not measurements of the run.
_FIGURE = re.compile(r"\d[\d.,]*\s*(?:–\s*\d[\d.,]*\s*)?(?:ms\b|tok/s|tokens/s|tokens per second|tokens a second"
                     r"|s on\b|seconds? on\b|MB of (?:memory|RAM)\b)", re.IGNORECASE)
_ORDERING = re.compile(r"\b(?:takes? longest|is (?:the )?(?:slowest|fastest|largest|smallest)|answers fastest"
                       r"|(?:slowest|fastest) to load|largest in memory|faster than|slower than|more accurate than"
                       r"|the most complete)\b", re.IGNORECASE)


def prose_problems(notebook: Mapping[str, Any]) -> list[str]:
    """Markdown sentences that state a measured figure or an ordering instead of computing it from the run or
    asking it as a question (a sentence ending in "?" asks)."""
    found = []
    for index, cell_ in enumerate(notebook["cells"]):
        if cell_.get("cell_type") != "markdown":
            continue
        source = "".join(cell_["source"]) if isinstance(cell_["source"], list) else cell_["source"]
        prose = re.sub(r"`[^`]*`", "", source)  # code spans name parameters and commands, not measurements
        for sentence in re.split(r"(?<=[.!?:])\s+|\n\s*[-|\d]+\.?\s", prose):
            if sentence.strip().endswith("?"):
                continue
            for pattern in (_FIGURE, _ORDERING):
                if match := pattern.search(sentence):
                    found.append(f"cell {index}: {match.group(0)!r} in {sentence.strip()[:160]!r}")
    return found
