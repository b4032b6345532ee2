"""Notebook controls: model picker, device toggle, chat playground and live benchmark progress (tables:
`helpers.present.cells`).

Live or headless, the rule (`core.progress.is_live`): ipywidgets are shown only where a person can use them. The
controls fall back to plain printed output when

1. `FOUNDRY_LAB_HEADLESS=1` (and `FOUNDRY_LAB_HEADLESS=0` forces widgets, whatever else holds);
2. a test runner executes the notebook: pytest / nbval (the kernel inherits pytest's `PYTEST_CURRENT_TEST`);
3. the code does not run in a Jupyter kernel (plain `python`, terminal IPython).

Other batch executors (`jupyter nbconvert --execute`, papermill) get widgets unless FOUNDRY_LAB_HEADLESS=1; the
cells still do their work, because every control does the real work once when it is created (the playground
answers its first prompt, the progress display follows the run it is given) and only then waits for clicks.
"""
from __future__ import annotations

import html
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from ..bench.summary import planned_trials
from ..core.config import resolve_prompt_set
from ..core.devices import DEVICES, gpu_providers
from ..core.progress import is_live
from ..measure.timing import TrialTiming
from ..serve.chat import Conversation
from ..serve.runners import InprocessRunner

if TYPE_CHECKING:
    from foundry_local_sdk import IModel

    from ..bench.settings import BenchConfig

T = TypeVar("T")


def _show(*items: Any) -> None:
    from IPython.display import display

    display(*items)


class WidgetValue(Generic[T]):
    """A choice a later cell reads with `.value`: the widget's current value when live, the default otherwise."""

    def __init__(self, default: T, read: Callable[[], T] | None = None) -> None:
        self._default = default
        self._read = read

    @property
    def value(self) -> T:
        return self._read() if self._read is not None else self._default


# --- model picker -------------------------------------------------------------------------------------------------

def _model_labels(catalog: pd.DataFrame) -> dict[str, str]:
    """One label per alias of the table: size class, devices, size, license and source."""
    labels = {}
    for alias, rows in catalog.groupby("alias", sort=False):
        size = pd.to_numeric(rows["size_mb"], errors="coerce").max()
        size_text = "size ?" if pd.isna(size) else f"{size:,.0f} MB"
        size_class = rows["size_class"].iloc[0] if "size_class" in rows.columns else "unknown"
        labels[alias] = (f"{alias}  ·  {size_class}  ·  {'/'.join(sorted(set(rows['device'])))}  ·  "
                         f"{size_text}  ·  "
                         f"{rows['license'].iloc[0]}  ·  {rows['source'].iloc[0]}")
    return labels


def model_picker(catalog: pd.DataFrame, selected: list[str]) -> WidgetValue[list[str]]:
    """Choose models from a catalog table (`tables.list_catalog()` or rows of it); `.value` is the list of aliases.

    Only models of the table are offered and preselected: a selected name the table lacks (filtered out, unknown)
    is named in a note and left out; when none is left, the table's first model is preselected.
    """
    labels = _model_labels(catalog)
    dropped = [name for name in selected if name not in labels]
    selected = [name for name in selected if name in labels] or list(labels)[:1]
    note = (f"Not in this table (filtered out or unknown), so not chosen: {', '.join(dropped)}."
            if dropped else "")
    if not is_live():
        print("Models:", ", ".join(selected) or "none")
        for name in selected:
            print("  " + labels[name])
        print(note + (" " if note else "") + "(headless: change the list in the parameters cell)")
        return WidgetValue(list(selected))
    import ipywidgets as w

    box = w.SelectMultiple(options=[(label, alias) for alias, label in labels.items()], value=tuple(selected),
                           rows=min(10, len(labels)), description="Models", layout=w.Layout(width="95%"))
    hint = w.HTML(html.escape(note + (" " if note else "") + "Ctrl/Cmd-click to choose several, then run the cells "
                                                                  "below again."))
    _show(w.VBox([box, hint]))
    return WidgetValue(list(selected), lambda: list(box.value))


# --- device toggle ------------------------------------------------------------------------------------------------

def gpu_status(manager: Any | None = None) -> str:
    """One sentence on what the GPU choice will do on this machine."""
    found = gpu_providers(manager)
    if found:
        return f"GPU execution providers available: {', '.join(found)}. 'gpu' runs models that have a GPU variant there."
    return "No GPU execution provider here: 'gpu' runs on the CPU and says why; 'auto' picks the CPU silently."


def device_toggle(default: str = "auto", manager: Any | None = None) -> WidgetValue[str]:
    """Choose `cpu`, `gpu` or `auto`, with what is available shown next to it; `.value` is the choice."""
    status = gpu_status(manager)
    if not is_live():
        print(f"Device: {default}. {status}")
        return WidgetValue(default)
    import ipywidgets as w

    toggle = w.ToggleButtons(options=list(DEVICES), value=default, description="Device",
                             tooltips=["always the CPU", "a GPU variant where one can run", "GPU if possible, else CPU"])
    _show(w.VBox([toggle, w.HTML(status)]))
    return WidgetValue(default, lambda: toggle.value)


# --- chat playground ----------------------------------------------------------------------------------------------

def timing_line(timing: TrialTiming) -> str:
    """TTFT, decode rate, tokens and finish reason of one answer, as one readable line."""
    if not timing.ok:
        return f"error after {timing.e2e_ms:.0f} ms: {timing.error}"
    parts = []
    if timing.ttft_ms is not None:
        parts.append(f"TTFT {timing.ttft_ms:.0f} ms")
    if timing.decode_tps is not None:
        parts.append(f"decode {timing.decode_tps:.0f} tok/s")
    parts += [f"{timing.output_tokens} tokens ({timing.tokens_source})", f"total {timing.e2e_ms:.0f} ms",
              f"finish: {timing.finish_reason}"]
    return " · ".join(parts)


HISTORY_SIZE = 5


class Playground(Conversation):
    """A `Conversation` that may switch models between turns; `history` is the last HISTORY_SIZE answers' timings."""

    def __init__(self, models: dict[str, IModel], max_tokens: int, system: str | None = None) -> None:
        self.models = models
        self.speaker = next(iter(models))
        super().__init__(InprocessRunner(models[self.speaker]), max_tokens, system)
        self.speakers: list[str] = []

    def use(self, name: str) -> None:
        """Answer the next turns with model `name` (loaded now if needed; the conversation is kept)."""
        from ..serve.runtime import load

        load(self.models[name])
        self.speaker, self.runner = name, InprocessRunner(self.models[name])

    def ask(self, prompt: str, write: Callable[[str], None]) -> TrialTiming:
        self.speakers.append(self.speaker)
        return super().ask(prompt, write)

    def history(self) -> pd.DataFrame:
        """The last answers, newest first: model, ttft_ms, decode_tps, output_tokens, e2e_ms, finish."""
        rows = [{"model": speaker, "ttft_ms": t.ttft_ms, "decode_tps": t.decode_tps, "output_tokens": t.output_tokens,
                 "prompt_tokens": t.prompt_tokens, "e2e_ms": t.e2e_ms, "finish": t.finish_reason or t.error}
                for speaker, t in zip(self.speakers, self.answers)]
        return pd.DataFrame(rows[::-1][:HISTORY_SIZE], columns=["model", "ttft_ms", "decode_tps", "output_tokens",
                                                                 "prompt_tokens", "e2e_ms", "finish"])


def _alias(model: IModel) -> str:
    return model.alias or model.id  # the name the attendee chose, not the variant id (`alias:1`)


def chat_playground(model: IModel | Sequence[IModel], prompt: str, max_tokens: int = 128,
                    system: str | None = None) -> Playground:
    """Answer `prompt` right away with the (first) model, streaming, with TTFT and tok/s; when live, keep chatting
    in a text box, choosing among `model`s (a model is loaded when first chosen), with the last answers' timings
    in a table under the box. Headless, the answer streams to stdout followed by its timing line.
    The first model must be loaded."""
    from .cells import show

    models = [model] if not isinstance(model, Sequence) else list(model)
    playground = Playground({_alias(m): m for m in models}, max_tokens, system)
    if not is_live():
        print(f"you: {prompt}\n{playground.speaker}: ", end="", flush=True)
        timing = playground.ask(prompt, lambda text: print(text, end="", flush=True))
        print(f"\n[{timing_line(timing)}]")
        return playground
    import ipywidgets as w

    conversation = w.Output(layout=w.Layout(border="1px solid #ccc", padding="4px", max_height="320px",
                                            overflow="auto"))
    stats, history = w.HTML(), w.HTML()
    text = w.Textarea(placeholder="Your message, then click Send",
                      layout=w.Layout(width="95%", height="60px"))
    send, reset = w.Button(description="Send", button_style="primary"), w.Button(description="New chat")
    length = w.IntSlider(value=max_tokens, min=8, max=512, step=8, description="max tokens")
    chooser = w.Dropdown(options=list(playground.models), value=playground.speaker, description="Model")

    def answer(message: str) -> None:
        playground.max_tokens = length.value
        if chooser.value != playground.speaker:
            stats.value = f"loading {html.escape(chooser.value)}…"
            playground.use(chooser.value)
        conversation.append_stdout(f"\nyou: {message}\n{playground.speaker}: ")
        stats.value = "generating…"
        timing = playground.ask(message, conversation.append_stdout)
        conversation.append_stdout("\n")
        stats.value = f"<code>{html.escape(timing_line(timing))}</code>"
        history.value = show(playground.history(), caption="Last answers, newest first").to_html()

    def on_send(_: Any) -> None:
        message, text.value = text.value.strip(), ""
        if message:
            answer(message)

    def on_reset(_: Any) -> None:
        playground.reset()
        conversation.clear_output()

    send.on_click(on_send)
    reset.on_click(on_reset)
    _show(w.VBox([chooser, conversation, stats, text, w.HBox([send, reset, length]), history]))
    answer(prompt)
    return playground


# --- live benchmark progress ----------------------------------------------------------------------------------------

def run_requests(config: BenchConfig) -> int:
    """Requests a fresh run of `config` sends through `after_trial`: `bench.summary.planned_trials` per model."""
    prompts = resolve_prompt_set(config.prompts)[1].prompts
    return len(config.models) * planned_trials(config.rounds, len(prompts), config.warmup)


class BenchmarkProgress:
    """Live progress of `benchmark.run_benchmark`: pass `update` as its `after_trial` callback.

    Live: a bar over the planned trials, the latest trial's timing line, and each model's running median TTFT and
    decode rate. Headless: one printed line per trial.
    """

    def __init__(self, config: BenchConfig) -> None:
        self.total = run_requests(config)
        self.done = 0
        self._samples: dict[str, dict[str, list[float]]] = {}
        self._live = is_live()
        if self._live:
            import ipywidgets as w

            self._bar = w.IntProgress(value=0, min=0, max=max(self.total, 1), description="trials")
            self._latest, self._table = w.HTML(), w.HTML()
            _show(w.VBox([self._bar, self._latest, self._table]))

    def update(self, record: dict[str, Any]) -> None:
        """One trial record of the results log (its TrialTiming fields plus model, prompt_id, round, warmup)."""
        self.done += 1
        timing = TrialTiming(**{name: record[name] for name in TrialTiming.__dataclass_fields__})
        step = "warm-up" if record["warmup"] else f"round {record['round'] + 1}"
        where = f"{record['model']} · {record['prompt_id']} · {step}"
        if not self._live:
            print(f"[{self.done}/{self.total}] {where}: {timing_line(timing)}", flush=True)
            return
        if timing.ok and not record["warmup"]:
            mine = self._samples.setdefault(record["model"], {"ttft_ms": [], "decode_tps": []})
            for metric, values in mine.items():
                if getattr(timing, metric) is not None:
                    values.append(getattr(timing, metric))
        self._bar.value = self.done
        self._latest.value = (f"{self.done}/{self.total} · {html.escape(where)} · "
                              f"<code>{html.escape(timing_line(timing))}</code>")
        self._table.value = self._running_medians()

    def _running_medians(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(model)}</td><td>{len(values['ttft_ms'])}</td>"
            f"<td>{_median_text(values['ttft_ms'], 'ms')}</td><td>{_median_text(values['decode_tps'], 'tok/s')}</td></tr>"
            for model, values in self._samples.items()
        )
        return ("<table><tr><th>model</th><th>trials</th><th>median TTFT</th><th>median decode</th></tr>"
                f"{rows}</table>")


def _median_text(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.0f} {unit}" if values else "–"


# --- selection weights --------------------------------------------------------------------------------------------

def weight_sliders(weights: dict[str, float], on_change: Callable[[dict[str, float]], None]) -> WidgetValue[dict[str, float]]:
    """One 0-1 slider per selection dimension; `on_change(weights)` runs once now and again after every move.

    Headless: prints the weights and calls `on_change` once; `.value` is the current weights.
    """
    if not is_live():
        print("Weights:", ", ".join(f"{name} {value:g}" for name, value in weights.items()),
              "(headless: change WEIGHTS in the parameters cell)")
        on_change(dict(weights))
        return WidgetValue(dict(weights))
    import ipywidgets as w

    sliders = {name: w.FloatSlider(value=value, min=0, max=1, step=0.05, description=name, continuous_update=False)
               for name, value in weights.items()}
    output = w.Output()

    def current() -> dict[str, float]:
        return {name: slider.value for name, slider in sliders.items()}

    def redraw(_: object = None) -> None:
        output.clear_output(wait=True)
        with output:
            on_change(current())

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    _show(w.VBox([*sliders.values(), output]))
    redraw()
    return WidgetValue(dict(weights), current)
