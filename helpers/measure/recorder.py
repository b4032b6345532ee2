"""The recorder both request paths fill while the clock runs (`TrialRecorder`), and the trial it makes of them.

While the request runs it only records: the arrival time and text of each chunk, the finish reason, the usage
report, errors. Afterwards `result()` labels reasoning and answer text (`helpers.measure.reasoning`), applies the
accounting and status rules (`helpers.measure.accounting`) and builds the `TrialTiming`. The end of generation
is the arrival of the last chunk carrying text; the time the response closed is kept apart (`close_s`).
"""
from __future__ import annotations

import time
from collections.abc import Callable

from tokenizers import Tokenizer

from ..core.api_key import redact
from ..core.errors import error_text
from .accounting import Generated, count_output, trial_notes, trial_problem
from .openai_wire import Part, Usage
from .reasoning import split_pieces
from .trial import TrialTiming

NO_STREAM_NOTE = "not streamed: TTFT, ITL, TPOT and decode rate are unavailable without streaming"
BURST_NOTE = ("all generated text arrived in one chunk (the server buffered it): TPOT and decode rate are not "
              "measurable")


class TrialRecorder:
    """Collects what one request produces; does nothing but record while the clock runs (counting comes after)."""

    def __init__(self, streamed: bool, on_token: Callable[[str], None] | None = None,
                 tokenizer: Tokenizer | None = None, max_tokens: int | None = None) -> None:
        self.streamed = streamed
        self.on_token = on_token
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.start = 0.0
        self.e2e_s: float | None = None  # until the response completed (closed), or failed
        self.pieces: list[tuple[float, str, str]] = []  # (arrival s, content text, reasoning-field text)
        self.usage_report: Usage | None = None
        self.cached_tokens: int | None = None
        self.finish_reason: str | None = None
        self.ended = False  # the response ended properly ([DONE], a finish reason, or a complete reply)
        self.error: str | None = None
        self.notes: list[str] = [] if streamed else [NO_STREAM_NOTE]

    def begin(self) -> None:
        self.start = time.perf_counter()

    def chunk(self, content: str | None, reasoning: str | None = None) -> None:
        """Generated text arrived (answer `content`, and/or text of a separate reasoning field)."""
        if content or reasoning:
            self.pieces.append((time.perf_counter() - self.start, content or "", reasoning or ""))
            if self.on_token is not None and content:
                self.on_token(content)

    def part(self, part: Part) -> None:
        """A streamed chunk or a whole reply, as `openai_wire` read it."""
        self.chunk(part.content, part.reasoning)
        if part.finish_reason:
            self.finish_reason = part.finish_reason
            self.ended = True
        if part.usage is not None:
            self.usage(part.usage)
        if part.cached_tokens is not None:
            self.cached_tokens = part.cached_tokens

    def usage(self, usage: Usage) -> None:
        self.usage_report = usage
        if usage.cached_tokens is not None:
            self.cached_tokens = usage.cached_tokens

    def complete(self) -> None:
        self.e2e_s = time.perf_counter() - self.start

    def fail(self, exc: BaseException | str) -> None:
        """Record an error that ended the request; partial tokens stay."""
        if self.e2e_s is None:
            self.complete()
        if self.error is None:
            self.error = redact(exc) if isinstance(exc, str) else error_text(exc)

    def _generated(self) -> tuple[Generated, list[float], list[float]]:
        """The texts and chunk counts, with the arrival times of every text chunk and of the answer chunks."""
        labelled = split_pieces([content for _, content, _ in self.pieces])
        times, answer_times, answers, thoughts, raw = [], [], [], [], []
        for (arrived, content, field_reasoning), (answer, inline_reasoning) in zip(self.pieces, labelled):
            thought = field_reasoning + inline_reasoning
            times.append(arrived)
            if answer:
                answer_times.append(arrived)
                answers.append(answer)
            if thought:
                thoughts.append(thought)
            raw.append(field_reasoning + content)
        generated = Generated(answer="".join(answers), reasoning="".join(thoughts), raw="".join(raw),
                              answer_chunks=len(answers), reasoning_chunks=len(thoughts), chunks=len(times),
                              streamed=self.streamed, usage=self.usage_report)
        return generated, times, answer_times

    def result(self) -> TrialTiming:
        generated, times, answer_times = self._generated()
        if self.error is None:
            problem = trial_problem(generated, self.ended,
                                    self.usage_report.completion_tokens if self.usage_report else None)
            if problem:
                self.fail(problem)
        count = count_output(generated, self.tokenizer)
        closed_s = self.e2e_s if self.e2e_s is not None else 0.0
        streamed_text = self.streamed and bool(times)
        timing = TrialTiming(
            start=self.start,
            e2e_s=times[-1] if streamed_text and self.error is None else closed_s,  # the end of generation
            close_s=closed_s,
            ttft_s=answer_times[0] if self.streamed and answer_times else None,
            token_times=times if self.streamed else [],
            output_tokens=count.output,
            tokens_source=count.source,
            prompt_tokens=self.usage_report.prompt_tokens if self.usage_report else None,
            finish_reason=self.finish_reason,
            error=self.error,
            text=generated.answer,
            streamed=self.streamed,
            ttft_any_s=times[0] if streamed_text else None,
            reasoning_tokens=count.reasoning,
            reasoning=generated.reasoning,
            cached_tokens=self.cached_tokens,
            max_tokens=self.max_tokens,
        )
        notes = self.notes + (trial_notes(generated, count, timing.truncation, self.max_tokens, self.finish_reason)
                              if timing.ok else [note for note in (count.note,) if note])
        if timing.burst:
            notes.append(BURST_NOTE)
        timing.note = "; ".join(notes) or None
        return timing
