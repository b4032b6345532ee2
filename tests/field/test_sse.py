"""helpers.measure.sse against the SSE spec's parsing rules (WHATWG HTML 9.2.6), fed in awkward byte splits."""
from __future__ import annotations

import pytest

from helpers.measure.sse import ServerSentEvent, iter_events, split_lines


def _bytes_split(text: str, size: int) -> list[bytes]:
    data = text.encode()
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_every_line_ending_and_a_bom_in_any_split(size: int) -> None:
    text = "\ufeffa\r\nb\nc\rd\r\n\r\ne"
    assert list(split_lines(_bytes_split(text, size))) == ["a", "b", "c", "d", ""]  # "e" never ended


def test_json_may_hold_unicode_line_separators() -> None:
    data = '{"content": "x\u2028y\x85z"}'
    assert [e.data for e in iter_events([f"data: {data}\n\n".encode()])] == [data]


def test_fields_of_the_spec_and_comments() -> None:
    stream = (": comment\nretry: 3000\n\n"  # no data: not dispatched
              "event: ping\nid: 7\n\n"
              "retry: soon\nid: a\0b\ndata: first\ndata:second\n\n"  # bad retry and NUL id ignored; two data lines
              "data\n\n")  # a field name without colon: empty value
    events = list(iter_events([stream.encode()]))
    assert events == [ServerSentEvent(data="first\nsecond", last_event_id="7", retry_ms=3000),
                      ServerSentEvent(data="", last_event_id="7", retry_ms=3000)]


def test_fields_outside_the_spec_are_kept_for_the_caller() -> None:
    stream = 'error: {"code": 400}\n\ndata: [DONE]\n\n'
    events = list(iter_events([stream.encode()]))
    assert events[0] == ServerSentEvent(data=None, other_fields=(("error", '{"code": 400}'),))
    assert events[1].data == "[DONE]"


def test_event_type_is_per_event() -> None:
    events = list(iter_events([b"event: error\ndata: x\n\ndata: y\n\n"]))
    assert [(e.event, e.data) for e in events] == [("error", "x"), ("message", "y")]


def test_an_error_line_before_the_connection_closes_is_heard() -> None:
    events = list(iter_events([b'data: {"a": 1}\n\nerror: {"code": 500}\n']))
    assert [e.data for e in events] == ['{"a": 1}', None] and events[1].other_fields == (("error", '{"code": 500}'),)
    assert list(iter_events([b"data: cut short\n"])) == []  # an incomplete event is discarded (spec)
