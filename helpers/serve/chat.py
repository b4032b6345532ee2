"""A multi-turn chat with one model, every answer timed: the notebook playground and `foundry-lab model run`.

`Conversation` keeps the turns and the timing of each answer (`TrialTiming`: TTFT, decode rate, tokens, finish
reason). How an answer is obtained is a `Send` function: `inprocess(model)` streams from a loaded Foundry Local
model in this process; `over_http(client, model)` asks an OpenAI-compatible server (the answer arrives whole).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..measure.timing import TrialTiming, time_inprocess_chat, time_openai_chat

if TYPE_CHECKING:
    from foundry_local_sdk import IModel
    from openai import OpenAI

Write = Callable[[str], None]
Send = Callable[[list[dict[str, str]], int, Write], TrialTiming]


def inprocess(model: IModel) -> Send:
    """Answers streamed token by token from a loaded model, in-process."""
    return lambda messages, max_tokens, write: time_inprocess_chat(model, messages, max_tokens=max_tokens,
                                                                   on_token=write)


def over_http(client: OpenAI, model: str) -> Send:
    """Answers from an OpenAI-compatible server (timed streaming; the text is written once complete)."""
    def send(messages: list[dict[str, str]], max_tokens: int, write: Write) -> TrialTiming:
        timing = time_openai_chat(client, model, messages, max_tokens=max_tokens)
        write(timing.text)
        return timing

    return send


class Conversation:
    """The turns so far and every answer's timing; `ask` sends a prompt after them."""

    def __init__(self, send: Send, max_tokens: int, system: str | None = None) -> None:
        self.send = send
        self.max_tokens = max_tokens
        self.system = system
        self.turns: list[dict[str, str]] = []
        self.answers: list[TrialTiming] = []

    def ask(self, prompt: str, write: Write) -> TrialTiming:
        """Send `prompt` after the conversation so far; the answer's text goes to `write` as it arrives."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        turns = [*self.turns, {"role": "user", "content": prompt}]
        timing = self.send(system + turns, self.max_tokens, write)
        if timing.ok:
            self.turns = [*turns, {"role": "assistant", "content": timing.text}]
        self.answers.append(timing)
        return timing

    def reset(self) -> None:
        """Forget the conversation (the timings stay in `answers`)."""
        self.turns = []
