"""A reader of server-sent events (SSE), as the HTML Living Standard defines the `text/event-stream` format.

Source: WHATWG HTML, section 9.2 "Server-sent events", 9.2.6 "Interpreting an event stream"
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation). The rules kept here:

- The stream is UTF-8; one leading byte-order mark is dropped. Lines end with CRLF, LF or CR, and with nothing
  else (not `str.splitlines()`, which also splits on U+2028 and friends that JSON strings may hold raw).
- A line starting with `:` is a comment. Otherwise the field name is what comes before the first `:` (the whole
  line when there is none) and the value what comes after it, minus one leading space.
- The spec's fields are `data` (appended to the data buffer, lines joined by LF), `event` (the event type),
  `id` (the last event id; ignored when it holds NUL) and `retry` (a reconnection time in ms, ASCII digits only).
  The spec ignores every other field.
- An empty line dispatches the event; an event without any `data` line is not dispatched.

One deliberate addition, because real servers put errors there: a field outside the spec's list (llama.cpp's
`error: {...}` line, for one) is not dropped silently but kept in `ServerSentEvent.other_fields`, and a block
that holds only such fields is reported as an event with `data` None. A caller that does not care ignores them,
as the spec does. An event still incomplete when the stream ends is discarded (spec), except its fields outside
the spec's list: a server that writes `error: ...` and closes the connection is still heard.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

DEFAULT_EVENT = "message"
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event block.

    `data`: the data lines joined by LF, or None when the block had no `data` field (then it holds other fields).
    `event`: the event type (`message` unless an `event:` line said otherwise). `last_event_id` and `retry_ms`
    are the stream's state after this block. `other_fields`: (name, value) of fields outside the spec's list.
    """

    data: str | None
    event: str = DEFAULT_EVENT
    last_event_id: str = ""
    retry_ms: int | None = None
    other_fields: tuple[tuple[str, str], ...] = ()


@dataclass
class _Block:
    data: list[str] = field(default_factory=list)
    event: str = ""
    other: list[tuple[str, str]] = field(default_factory=list)


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode UTF-8 bytes as they arrive and yield complete lines (without their CRLF, LF or CR ending).

    A CR at the end of one chunk and an LF at the start of the next are one line ending. A leading BOM is dropped.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending, started, after_cr = "", False, False
    for chunk in chunks:
        text = decoder.decode(chunk)
        if not text:
            continue
        if not started:
            text, started = text.removeprefix("\ufeff"), True
        if after_cr and text.startswith("\n"):
            text = text[1:]
        after_cr = text.endswith("\r")
        *lines, pending = _LINE_END.split(pending + text)
        yield from lines


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """The events of an SSE byte stream, each yielded as soon as its terminating empty line has arrived."""
    block, last_event_id, retry_ms = _Block(), "", None
    for line in split_lines(chunks):
        if line == "":
            if block.data or block.other:
                yield ServerSentEvent(
                    data="\n".join(block.data) if block.data else None, event=block.event or DEFAULT_EVENT,
                    last_event_id=last_event_id, retry_ms=retry_ms, other_fields=tuple(block.other))
            block = _Block()
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive pings are sent this way)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            block.data.append(value)
        elif name == "event":
            block.event = value
        elif name == "id":
            if "\0" not in value:
                last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                retry_ms = int(value)
        else:
            block.other.append((name, value))
    if block.other:
        yield ServerSentEvent(data=None, last_event_id=last_event_id, retry_ms=retry_ms, other_fields=tuple(block.other))
