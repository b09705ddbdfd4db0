import pytest

from gatewise import APIResponseValidationError
from gatewise._http import EventDecoder


def test_events_split_anywhere_are_decoded_once_complete() -> None:
    wire = b'data: {"a": 1}\n\ndata: {"b": 2}\r\n\r\ndata: [DONE]\n\n'
    for cut in range(len(wire)):
        decoder = EventDecoder()
        events = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:])
        assert events == [{"a": 1}, {"b": 2}], cut
        assert decoder.done


def test_nothing_after_done_is_returned() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b'data: [DONE]\n\ndata: {"late": true}\n\n') == []


def test_comments_and_other_fields_are_ignored() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b': keep-alive\nevent: message\ndata:{"x":1}\n\n') == [{"x": 1}]


def test_multi_line_data_is_joined() -> None:
    assert EventDecoder().feed(b'data: {"x":\ndata: 1}\n\n') == [{"x": 1}]


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"'])
def test_an_event_that_is_not_a_json_object_raises(payload: bytes) -> None:
    with pytest.raises(APIResponseValidationError, match="stream event"):
        EventDecoder().feed(b"data: " + payload + b"\n\n")


def test_good_events_before_a_bad_one_in_the_same_chunk_come_first() -> None:
    decoder = EventDecoder()
    events = decoder.feed(b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: {oops\n\ndata: {"c": 3}\n\n')
    assert events == [{"a": 1}, {"b": 2}]
    assert decoder.error is not None
    with pytest.raises(APIResponseValidationError, match="stream event"):
        decoder.feed(b"")
