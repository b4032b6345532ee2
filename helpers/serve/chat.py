"""A multi-turn chat with one model, every answer timed: the notebook playground and `foundry-lab model run`.

`Conversation` keeps the turns and the timing of each answer (`TrialTiming`: TTFT, decode rate, tokens, finish
reason). The answer comes from a runner (`runners`): in-process it streams token by token; over HTTP (the kit's
web service, the Foundry Local app's service, any OpenAI-compatible server) the text is written once complete.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..measure.timing import TrialTiming

if TYPE_CHECKING:
    from .runners import Runner

Write = Callable[[str], None]


class Conversation:
    """The turns so far and every answer's timing; `ask` sends a prompt after them to `runner`."""

    def __init__(self, runner: Runner, max_tokens: int, system: str | None = None) -> None:
        self.runner = runner
        self.max_tokens = max_tokens
        self.system = system
        self.turns: list[dict[str, str]] = []
        self.answers: list[TrialTiming] = []

    def ask(self, prompt: str, write: Write) -> TrialTiming:
        """Send `prompt` after the conversation so far; the answer's text goes to `write` as it arrives."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        turns = [*self.turns, {"role": "user", "content": prompt}]
        timing = self.runner.chat(system + turns, max_tokens=self.max_tokens, on_token=write)
        if timing.ok:
            self.turns = [*turns, {"role": "assistant", "content": timing.text}]
        self.answers.append(timing)
        return timing

    def reset(self) -> None:
        """Forget the conversation (the timings stay in `answers`)."""
        self.turns = []
