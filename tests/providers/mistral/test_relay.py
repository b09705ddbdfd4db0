"""``SseRelay``: a Mistral stream as OpenAI SSE bytes, runs of plain text events passed
through without decoding.  Whatever the events and however the bytes are cut into reads,
the relay says what the decoding path (events -> translator -> one ``data:`` line per
chunk) says; and the plain runs really are taken the fast way."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewise._exceptions import APIResponseValidationError, InternalServerError
from gatewise._http._sse import EventDecoder
from gatewise._relay import SseRelay, encode_event
from gatewise._streaming import translate
from gatewise.providers.mistral import passthrough
from gatewise.providers.mistral.stream import stream_translator

HEAD = {"id": "b3999b8c4d2a4d2e9c7f0e5a1b2c3d4e", "object": "chat.completion.chunk",
        "created": 1769088854, "model": "mistral-small-latest"}
TEXTS = st.one_of(
    st.sampled_from([" word", ", and", " \"quoted\"", " back\\slash\\", " line\nbreak",
                     " tab\t", " é ü 漢字 🙂", " <think>", " </think>", " a < b", "<",
                     " \\u003c", " x\\", "\\\"", "", " {\"k\": 1}", " a\":b"]),
    st.text(max_size=12),
)


def event(delta: dict[str, Any], finish: str | None = None, *, index: int = 0,
          noise: bool = False, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
    if noise:
        choice["logprobs"] = None
    out: dict[str, Any] = {**HEAD, "choices": [choice], **extra}
    if noise:
        out["p"] = "abcdefghij0123"
    return out


def sse(events: list[dict[str, Any]], *, ascii_only: bool = False, crlf: bool = False
        ) -> bytes:
    end = "\r\n\r\n" if crlf else "\n\n"
    dump = (lambda e: json.dumps(e, separators=(",", ":"))) if ascii_only else (
        lambda e: orjson.dumps(e).decode())
    return ("".join(f"data: {dump(e)}{end}" for e in events) + f"data: [DONE]{end}").encode()


def by_decoding(data: bytes, params: dict[str, Any]) -> list[dict[str, Any]]:
    decoder = EventDecoder()
    chunks = translate(decoder.feed(data), stream_translator("m", params))
    return [orjson.loads(encode_event(c)[6:]) for c in chunks]


def by_relay(reads: list[bytes], params: dict[str, Any]) -> tuple[list[dict[str, Any]], bytes]:
    relay = SseRelay(stream_translator("m", params))
    out = b""
    for read in reads:
        out += b"".join(relay.feed(read))
        if relay.done:
            break
    assert relay.done
    out += b"".join(relay.finish())
    events = out.split(b"\n\n")
    assert events.pop() == b""
    assert all(e.startswith(b"data: {") for e in events)
    return [orjson.loads(e[6:]) for e in events], out


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    reads, pos = [], 0
    for size in sizes:
        if pos >= len(data):
            break
        reads.append(data[pos:pos + size])
        pos += size
    if pos < len(data):
        reads.append(data[pos:])
    return reads


def text_stream(texts: list[str], **kw: Any) -> list[dict[str, Any]]:
    events = [event({"role": "assistant", "content": ""}, **kw)]
    events += [event({"content": t}, **kw) for t in texts]
    usage = {"prompt_tokens": 3, "completion_tokens": len(texts), "total_tokens": 3 + len(texts)}
    events.append(event({"content": ""}, "stop", usage=usage, **kw))
    return events


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = st.one_of(
        TEXTS.map(lambda t: event({"content": t})),
        TEXTS.map(lambda t: event({"content": t}, noise=True)),
        TEXTS.map(lambda t: event({"content": [{"type": "thinking",
                                                "thinking": [{"type": "text", "text": t}]}]})),
        TEXTS.map(lambda t: event({"content": t}, index=1)),
        TEXTS.map(lambda t: event({"content": t, "role": "assistant"})),
        TEXTS.map(lambda t: event({"content": t, "tool_call_id": "x"})),
        st.just(event({"content": None, "tool_calls": [
            {"id": "c1", "function": {"name": "f", "arguments": "{\"a\": \"<b>\"}"}}]})),
    )
    body = draw(st.lists(kinds, max_size=30))
    runs = draw(st.lists(TEXTS, max_size=40))
    return text_stream([])[:1] + body + [event({"content": t}) for t in runs] + body[:3] + [
        event({"content": ""}, draw(st.sampled_from(["stop", "length", "tool_calls"])),
              usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.lists(st.integers(1, 600), max_size=12), st.booleans(), st.booleans())
def test_the_relay_says_what_decoding_says(events: list[dict[str, Any]], sizes: list[int],
                                           ascii_only: bool, include_usage: bool) -> None:
    params = {"stream_options": {"include_usage": True}} if include_usage else {}
    data = sse(events, ascii_only=ascii_only)
    relayed, _ = by_relay(cut(data, sizes), params)
    assert relayed == by_decoding(data, params)


def test_a_quote_after_an_escaped_backslash_is_not_taken_for_an_escaped_one() -> None:
    # Texts ending with a backslash end with `\\"` on the wire.  Counted as escaped quotes,
    # four of them balanced the four quotes of an extra "role" key in the same run, which
    # then went out untranslated (found by the property test above).
    extra_key = event({"content": " x\\", "role": "assistant"})
    events = (text_stream([])[:1] + [extra_key] + [event({"content": " x\\"})] * 3
              + [extra_key] + text_stream([])[-1:])
    data = sse(events)
    relayed, _ = by_relay([data], {})
    assert relayed == by_decoding(data, {})
    assert all("role" not in e["choices"][0]["delta"] for e in relayed[1:])


def test_plain_runs_pass_through_untouched() -> None:
    texts = [f" word{i}" for i in range(200)]
    data = sse(text_stream(texts))
    relayed, out = by_relay([data], {})
    assert relayed == by_decoding(data, {})
    run = data[data.index(b" word1\"") - 200:]
    run = run[run.index(b"data: "):run.index(b'"finish_reason":"stop"')]
    run = run[:run.rindex(b"\n\n") + 2]
    assert run in out  # the upstream's own bytes, not re-encoded


def test_a_long_run_is_checked_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    real = passthrough._checked

    def spy(run: bytes, head: passthrough.Head) -> bytes | None:
        checked.append(run.count(b"\n\n"))
        return real(run, head)

    monkeypatch.setattr(passthrough, "_checked", spy)
    data = sse(text_stream([f" w{i}" for i in range(200)]))
    by_relay([data], {})
    assert max(checked) == 199  # all but the role, the first words and the last event


def test_a_read_of_plain_events_is_cleared_by_the_quick_check_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual read of a stream (a few plain events, texts with escapes, non-ASCII text)
    # takes the quick check (_clean) and never the closer one (_checked).
    quick: list[bool] = []
    real_clean, real_checked = passthrough._clean, passthrough._checked

    def spy(*args: Any) -> bytes | None:
        run = real_clean(*args)
        quick.append(run is not None)
        return run

    def closer(run: bytes, head: passthrough.Head) -> bytes | None:
        raise AssertionError("a plain read went the closer way")

    monkeypatch.setattr(passthrough, "_clean", spy)
    texts = [" word", " line\nbreak", " tab\t", " back\\slash", " \u00e9", " 漢字 🙂"]
    events = text_stream(texts * 5, noise=True)
    data = sse(events)
    head, body, tail = sse(events[:1])[:-14], sse(events[1:-1])[:-14], sse(events[-1:])
    relay = SseRelay(stream_translator("m", {}))
    out = b"".join(relay.feed(head))
    monkeypatch.setattr(passthrough, "_checked", closer)
    for read in cut(body, [256] * 200):  # the bench's paced reads
        out += b"".join(relay.feed(read))
    assert quick and all(quick)
    monkeypatch.setattr(passthrough, "_checked", real_checked)
    out += b"".join(relay.feed(tail)) + b"".join(relay.finish())
    assert [orjson.loads(e[6:]) for e in out.split(b"\n\n")[:-1]] == by_decoding(data, {})


# A text, and whether the quick check clears a read holding it (texts that may hold
# <think> tags, as chat's; and texts that may not, as FIM's code).
QUICK = [(" \"quoted\"", False, False), (" {\"k\": 1}", False, False), ("\\\"", False, False),
         ("", False, False), (" a < b", False, True), (" \\u003c", False, True),
         (" x\\", True, True), (" line\nbreak", True, True), (" 漢字", True, True)]


@pytest.mark.parametrize(("text", "with_tags", "without"), QUICK)
def test_what_the_quick_check_cannot_clear_goes_the_closer_way(
        text: str, with_tags: bool, without: bool) -> None:
    head = passthrough.head_of(encode_event(event({"content": ""})))
    plain = sse([event({"content": " w"})])[:-14]
    odd = sse([event({"content": text})])[:-14]
    read = plain + odd + plain
    for tags, cleared in ((True, with_tags), (False, without)):
        assert passthrough._clean(plain + plain, 0, 2 * len(plain), head, tags) is not None
        assert (passthrough._clean(read, 0, len(read), head, tags) is not None) is cleared
        alone = odd + plain  # at a read's start, and as its only event
        assert (passthrough._clean(alone, 0, len(alone), head, tags) is not None) is cleared
        assert (passthrough._clean(odd, 0, len(odd), head, tags) is not None) is cleared
    data = sse(text_stream([" w", text, " w"]))
    assert by_relay([data], {})[0] == by_decoding(data, {})


def test_noise_is_cut_as_the_translator_cuts_it() -> None:
    data = sse(text_stream([" a", " b", " c", " d"], noise=True))
    relayed, out = by_relay([data], {})
    assert relayed == by_decoding(data, {})
    assert b'"p":' not in out and b"logprobs" not in out


@pytest.mark.parametrize("texts", [[" <think>x</think> y", " z"], [" a", " <", "think>b"],
                                   [" a", " \\u003cthink>"]])
def test_think_tags_go_the_decoding_way(texts: list[str]) -> None:
    data = sse(text_stream(texts), ascii_only=True)
    assert by_relay([data], {})[0] == by_decoding(data, {})


def test_crlf_framing_is_decoded() -> None:
    data = sse(text_stream([" a", " b", " c"]), crlf=True)
    for reads in ([data], cut(data, [7] * 200)):
        assert by_relay(reads, {})[0] == by_decoding(data.replace(b"\r\n", b"\n"), {})


def test_usage_is_known_after_the_last_event() -> None:
    relay = SseRelay(stream_translator("m", {}))
    relay.feed(sse(text_stream([" a", " b"])))
    assert relay.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_events_before_an_error_event_come_out_first() -> None:
    error = {"object": "error", "message": "overloaded", "type": "internal_error"}
    data = sse(text_stream([" a", " b", " c"])[:-1])[:-len(b"data: [DONE]\n\n")]
    data += b"data: " + orjson.dumps(error) + b"\n\n"
    relay = SseRelay(stream_translator("m", {}))
    out = b"".join(relay.feed(data))
    assert out.count(b"\n\n") == 4 and b'" c"' in out
    assert isinstance(relay.error, InternalServerError)
    with pytest.raises(InternalServerError):
        relay.feed(b"data: [DONE]\n\n")


def test_a_bad_event_after_good_ones() -> None:
    data = sse(text_stream([" a", " b"])[:-1])[:-len(b"data: [DONE]\n\n")] + b"data: {oops\n\n"
    relay = SseRelay(stream_translator("m", {}))
    out = b"".join(relay.feed(data))
    assert out.count(b"\n\n") == 3
    assert isinstance(relay.error, APIResponseValidationError)


def test_a_line_that_is_not_an_event_goes_the_decoding_way() -> None:
    # "xdata: {...}" is a field the SSE decoder ignores, not an event: a run with it in is
    # not a run of plain events, even though each head and suffix is there.
    data = sse(text_stream([" a", " b", " c", " d"]))
    second = data.index(b'data: {', data.index(b'" b"'))
    data = data[:second] + b"x" + data[second:]
    relayed, _ = by_relay([data], {})
    assert relayed == by_decoding(data, {})
    assert [c["choices"][0]["delta"].get("content") for c in relayed][1:-1] == [" a", " b", " d"]


# A read of many events that each go the decoding way must cost a bounded multiple of its
# bytes.  Each look of the fast path (its quick check included) reads at most its window
# (``data[pos:limit]``, checked just below), so the work is counted as the windows' bytes,
# and the bytes of the runs the full check reads: the relay once looked at the rest of the
# read for every such event (a 400-event read: ~200 times its bytes; 95 ms instead of 1.5).
ODD_TEXTS = {
    "every text with <": [f" a{i} < b" for i in range(400)],
    "every text ending with a backslash": [f" x{i}\\" for i in range(400)],
    "every text with \\u003c": [f" x{i}\\u003c" for i in range(400)],
    "one text in ten with <": [f" a{i} < b" if i % 10 == 0 else f" w{i}" for i in range(400)],
    "every other text with <": [f" a{i} < b" if i % 2 else f" w{i}" for i in range(400)],
}


def _extra_keys(every: int) -> list[dict[str, Any]]:
    # An extra key: a run holding it fails the full check, which cannot say which event.
    events = text_stream([f" t{i}" for i in range(400)])
    for i in range(1, 401, every):
        events[i] = event({"content": f" t{i}", "role": "assistant"})
    return events


ODD_STREAMS = {**{name: text_stream(texts) for name, texts in ODD_TEXTS.items()},
               "every event with an extra key": _extra_keys(1),
               "one event in seven with an extra key": _extra_keys(7),
               "plain": text_stream([f" w{i}" for i in range(400)])}


@pytest.mark.parametrize("name", list(ODD_STREAMS))
def test_a_read_costs_a_bounded_multiple_of_its_bytes(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sse(ODD_STREAMS[name])
    translator = stream_translator("m", {})
    looked, checked = [0], [0]
    real_look, real_check = translator.passthrough, passthrough._checked

    def look(data: bytes, pos: int, limit: int) -> tuple[bytes, int]:
        looked[0] += limit - pos
        return real_look(data, pos, limit)

    def check(run: bytes, head: passthrough.Head) -> bytes | None:
        checked[0] += len(run)
        return real_check(run, head)

    monkeypatch.setattr(translator, "passthrough", look)
    monkeypatch.setattr(passthrough, "_checked", check)
    relay = SseRelay(translator)
    out = b"".join(relay.feed(data)) + b"".join(relay.finish())
    assert [orjson.loads(e[6:]) for e in out.split(b"\n\n")[:-1]] == by_decoding(data, {})
    assert looked[0] <= 12 * len(data)
    assert checked[0] <= 8 * len(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.data())
def test_a_look_reads_nothing_past_its_window(events: list[dict[str, Any]],
                                              draw: st.DataObject) -> None:
    data = sse(events)
    ends = [i + 2 for i in range(len(data) - 1) if data[i:i + 2] == b"\n\n"]
    head = passthrough.head_of(encode_event(event({"content": ""})))
    first = draw.draw(st.sampled_from(ends[:-1]))
    limit = draw.draw(st.sampled_from([e for e in ends if e > first]))
    run, end = passthrough.plain_run(data, first, limit, head)
    assert (run, end) == passthrough.plain_run(data[:limit], first, limit, head)
    assert first <= end <= limit
