"""One display convention for every table an attendee sees (notebooks 00-06, the reports' `format_value`).

Every cell is shown the way the reports show it: numbers rounded to meaningful digits with the column's unit
(`ttft_ms` -> "231.8 ms", `decode_tps_median` -> "17.3 tok/s"), missing values as "–" (never None, NaN or <NA>),
booleans as yes/no, lists joined with commas, and text with its line breaks (an answer reads as an answer, not
as an escaped string). An answer cut by `max_tokens` is marked as cut, with the reason (`answer_cell`).

`show(frame, key=...)` returns a `Table`: rendered as HTML in Jupyter, as aligned text elsewhere. A table given a
`key` also carries its raw values in the output (`TABLE_MIME`), so the claims printed about it
(`helpers.present.claims`) can be checked against what was on screen after the notebook ran.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..bench.markdown import format_value

TABLE_MIME = "application/vnd.foundry-lab.table+json"
MISSING = "–"
# Column-name parts -> unit, first match wins (the kit's column names: ttft_ms_p50, decode_tps_median, load_s, ...).
_UNITS = [(re.compile(r"(^|_)ms($|_)"), "ms"), (re.compile(r"(^|_)tps($|_)"), "tok/s"),
          (re.compile(r"(^|_)mb($|_)"), "MB"), (re.compile(r"(^|_)s($|_)"), "s"), (re.compile(r"(^|_)w$"), "W"),
          (re.compile(r"(^|_)pct($|_)"), "%")]
_CSS = ("<style>.fl-table td,.fl-table th{text-align:left;vertical-align:top;padding:2px 8px}"
        ".fl-table td.num{text-align:right;white-space:nowrap}.fl-table td.text{white-space:pre-wrap;min-width:16em;"
        "max-width:48em}.fl-table .cut{color:#a00}</style>")


def unit_of(column: str) -> str:
    """The unit a column's name declares ("e2e_ms_p95" -> "ms", "decode_tps_median" -> "tok/s", "load_s" -> "s",
    "peak_rss_mb" -> "MB", "decode_roofline_pct" -> "%"); "" when it declares none."""
    name = str(column).lower()
    return next((unit for pattern, unit in _UNITS if pattern.search(name)), "")


def cell(value: object, unit: str = "") -> str:
    """One value as every table shows it: `bench.markdown.format_value` (missing -> "–", yes/no, rounding) plus
    the unit after a number; lists and tuples joined with ", ", a mapping as "key value, ..." ("–" when empty)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {cell(item)}" for key, item in value.items()) or MISSING
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(cell(item) for item in value) or MISSING
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return _text(value)
    text = format_value(value)
    return f"{text} {unit}" if unit and text != MISSING else text


def _text(value: object) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value).replace("\\n", "\n") if str(value).strip() else MISSING


def cut_note(finish_reason: str | None, max_tokens: int | None) -> str:
    """Why an answer ended early, or "" when the model finished it ("stop")."""
    if finish_reason == "length":
        return f"[cut: reached max_tokens={max_tokens}]" if max_tokens else "[cut: reached the token limit]"
    if not isinstance(finish_reason, str) or finish_reason in ("", "stop"):  # missing (None, NaN): not cut
        return ""
    return f"[ended: {finish_reason}]"


def answer_cell(text: str | None, finish_reason: str | None = None, max_tokens: int | None = None,
                error: str | None = None) -> str:
    """An answer as a table shows it: the whole text, then why it ended when the model did not finish it."""
    if error:
        return f"no answer: {error}"
    note = cut_note(finish_reason, max_tokens)
    body = (text if isinstance(text, str) else "").strip() or "(empty answer)"
    return f"{body} {note}" if note else body


@dataclass
class Table:
    """A table ready to display: `frame` keeps the raw values, the output shows them as `cell` formats them.

    `key` names the table for claims about it; `units` overrides the unit a column name declares; `text` lists
    the columns shown as wrapped text (answers, warnings) rather than one line.
    """

    frame: pd.DataFrame
    key: str | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    text: tuple[str, ...] = ()
    caption: str = ""

    def unit(self, column: str) -> str:
        return self.units.get(column, unit_of(column))

    def cells(self) -> pd.DataFrame:
        """Every cell as a string, formatted (the table as shown)."""
        shown = self.frame.astype(object)
        return pd.DataFrame({column: [cell(value, self.unit(column)) for value in shown[column]]
                             for column in shown.columns}, index=range(len(shown)))

    def records(self) -> list[dict[str, Any]]:
        """The raw values, JSON-ready (missing values as null)."""
        return json.loads(self.frame.to_json(orient="records", default_handler=str))

    def to_html(self) -> str:
        numeric = {c for c in self.frame.columns
                   if pd.api.types.is_numeric_dtype(self.frame[c]) and not pd.api.types.is_bool_dtype(self.frame[c])}
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.frame.columns)
        rows = []
        for _, row in self.cells().iterrows():
            tds = []
            for column, value in row.items():
                kind = "num" if column in numeric else "text" if column in self.text else ""
                body = html.escape(value)
                body = re.sub(r"(\[(cut|ended): [^\]]*\])$", r"<span class='cut'>\1</span>", body)
                tds.append(f"<td class='{kind}'>{body}</td>")
            rows.append("<tr>" + "".join(tds) + "</tr>")
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f"{_CSS}<div style='overflow-x:auto'><table class='fl-table'>{caption}<thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table></div>")

    def to_text(self) -> str:
        flat = self.cells().map(lambda text: text.replace("\n", " "))  # a terminal table keeps one line per row
        return (self.caption + "\n" if self.caption else "") + flat.to_string(index=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.to_text(), "text/html": self.to_html()}
        if self.key:
            bundle[TABLE_MIME] = {"key": self.key, "columns": [str(c) for c in self.frame.columns],
                                  "units": {str(c): self.unit(c) for c in self.frame.columns}, "rows": self.records()}
        return bundle


def show(frame: pd.DataFrame, key: str | None = None, *, units: Mapping[str, str] | None = None,
         text: Iterable[str] = (), caption: str = "") -> Table:
    """A DataFrame as every notebook table is shown (see the module docstring). A named index becomes the first
    column. Columns named `answer`, `text`, `warnings`, `detail`, `fix` or `verdict` wrap as text."""
    if frame.index.name is not None or isinstance(frame.index, pd.MultiIndex):
        frame = frame.reset_index()
    else:
        frame = frame.reset_index(drop=True)
    wrapped = {str(c) for c in text} | {c for c in frame.columns if str(c) in _TEXT_COLUMNS}
    return Table(frame, key, dict(units or {}), tuple(wrapped), caption)


_TEXT_COLUMNS = {"answer", "text", "warnings", "detail", "fix", "verdict", "judge_verdict", "excluded_by", "error"}


def answers(frame: pd.DataFrame, max_tokens: int | None, *, text: str = "text", finish: str = "finish_reason",
            error: str = "error") -> pd.Series:
    """Each row's answer as `answer_cell` shows it (whole text, marked when cut), from a trials or probe frame, or
    a scores frame (`evaluate.scoring.score_answers`), whose boolean `truncated` stands for the finish reason."""
    errors = frame[error] if error in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    if finish in frame.columns:
        reasons = frame[finish]
    else:
        reasons = frame["truncated"].map(lambda cut: "length" if not pd.isna(cut) and bool(cut) else None)
    return pd.Series([answer_cell(t, f, max_tokens, e if isinstance(e, str) else None)
                      for t, f, e in zip(frame[text], reasons, errors)], index=frame.index)


def side_by_side(frame: pd.DataFrame, models: list[str], max_tokens: int | None, *, prompt: str = "prompt_id",
                 text: str = "text", finish: str = "finish_reason") -> Table:
    """One row per prompt, one column per model: each answer whole, marked when cut (read across the ladder)."""
    marked = frame.assign(answer=answers(frame, max_tokens, text=text, finish=finish))
    wide = marked.drop_duplicates([prompt, "model"]).pivot(index=prompt, columns="model", values="answer")
    wide = wide.loc[list(dict.fromkeys(marked[prompt])), [m for m in models if m in wide.columns]]  # the set's order
    wide.columns.name = None
    return show(wide, text=models)


def mapping(values: Mapping[str, object], label: str) -> Table:
    """A dict of figures (e.g. a judge's agreement) as a one-row table named `label`, never a raw dict."""
    return show(pd.DataFrame([{"": label, **values}]))


def settings(values: Mapping[str, object]) -> Table:
    """Settings (e.g. a benchmark's configuration) as a two-column table, one row per setting, never a dataclass or
    dict repr."""
    return show(pd.DataFrame({"setting": list(values), "value": [cell(v) for v in values.values()]}), text=["value"])


_RAW = re.compile(r"(?<![\w-])(None|NaN|nan|<NA>|NaT)(?![\w-])|\\n")


def raw_values(table_text: str) -> list[str]:
    """The raw values a table shows that this convention never does (None, NaN, <NA>, NaT, an escaped `\\n`), in
    the text of a rendered table (HTML tags and the stylesheet are dropped first). Empty when there are none."""
    text = re.sub(r"<style.*?</style>", "", table_text, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return [match.group(0) for match in _RAW.finditer(text)]
