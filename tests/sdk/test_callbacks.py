"""SDK callbacks (``gatewise.callbacks``): a ``Client``, ``AsyncClient`` or ``Router`` tells
each of its callbacks of every chat and embedding call, with the call's record: success,
failure, a stream after its last chunk (or closed early), and a callback that raises never
breaks the call."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import gatewise
from gatewise import _observe
from gatewise.callbacks import Callback
from gatewise.record import RequestRecord
from tests.fake_mistral import FakeMistral, Status
from tests.sdk.conftest import HELLO, MODEL


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[tuple[str, RequestRecord, Any]] = []

    def log_success_event(self, record: RequestRecord, response: Any) -> None:
        self.events.append(("success", record, response))

    def log_failure_event(self, record: RequestRecord, error: BaseException) -> None:
        self.events.append(("failure", record, error))


class AsyncRecorder:
    """Only async methods (no base class): what an AsyncClient awaits."""

    def __init__(self) -> None:
        self.events: list[tuple[str, RequestRecord]] = []

    async def async_log_success_event(self, record: RequestRecord, response: Any) -> None:
        await asyncio.sleep(0)
        self.events.append(("success", record))

    async def async_log_failure_event(self, record: RequestRecord, error: BaseException
                                      ) -> None:
        self.events.append(("failure", record))


class Raising(Callback):
    def log_success_event(self, record: RequestRecord, response: Any) -> None:
        raise RuntimeError("a bug in the user's callback")

    def log_failure_event(self, record: RequestRecord, error: BaseException) -> None:
        raise RuntimeError("a bug in the user's callback")


def client(fake: FakeMistral, *callbacks: Any) -> gatewise.Client:
    return gatewise.Client(api_key="test-key", api_base=fake.base_url, num_retries=0,
                           callbacks=callbacks)


def aclient(fake: FakeMistral, *callbacks: Any) -> gatewise.AsyncClient:
    return gatewise.AsyncClient(api_key="test-key", api_base=fake.base_url, num_retries=0,
                                callbacks=callbacks)


def test_success_carries_the_record(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    with client(fake_mistral, seen) as c:
        response = c.completion(MODEL, HELLO, temperature=0.2)
    [(kind, record, answer)] = seen.events
    assert kind == "success" and answer is response
    assert record.route == "chat" and record.model == MODEL and record.status == 200
    assert record.error_type is None and not record.stream
    assert record.prompt_tokens == response.usage.prompt_tokens > 0
    assert record.completion_tokens == response.usage.completion_tokens > 0
    assert record.cost == response.cost and record.cost > 0
    assert record.finish_reasons == ("stop",)
    assert record.response_model == response.model
    assert record.latency > 0 and len(record.call_id) == 32
    assert record.prompt is None  # no message content unless asked for


def test_failure_carries_the_error(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    fake_mistral.script(Status(429))
    with client(fake_mistral, seen) as c, pytest.raises(gatewise.RateLimitError) as raised:
        c.completion(MODEL, HELLO)
    [(kind, record, error)] = seen.events
    assert kind == "failure" and error is raised.value
    assert record.status == 429 and record.error_type == "rate_limit_error"
    assert record.completion_tokens == 0


def test_embeddings_are_reported(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    with client(fake_mistral, seen) as c:
        c.embedding("mistral/mistral-embed", ["a", "b"])
    [(kind, record, _)] = seen.events
    assert kind == "success" and record.route == "embeddings" and record.prompt_tokens > 0


def test_a_stream_is_reported_after_its_last_chunk(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    with client(fake_mistral, seen) as c:
        stream = c.completion(MODEL, HELLO, stream=True,
                              stream_options={"include_usage": True})
        assert isinstance(stream, gatewise.Stream)
        chunks = []
        for chunk in stream:
            assert not seen.events, "reported before the stream ended"
            chunks.append(chunk)
    [(kind, record, response)] = seen.events
    assert kind == "success" and response is None and record.stream
    assert not record.abandoned
    assert record.ttft is not None and 0 < record.ttft <= record.latency
    assert record.completion_tokens == chunks[-1].usage.completion_tokens > 0
    assert record.finish_reasons == ("stop",) and record.cost > 0


def test_a_stream_closed_early_is_reported_abandoned(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    with client(fake_mistral, seen) as c:
        stream = c.completion(MODEL, HELLO, stream=True)
        next(iter(stream))
        stream.close()
        stream.close()
    [(kind, record, _)] = seen.events
    assert kind == "success" and record.abandoned


async def test_async_client_awaits_async_methods(fake_mistral: FakeMistral) -> None:
    awaited, plain = AsyncRecorder(), Recorder()
    async with aclient(fake_mistral, awaited, plain) as c:
        await c.completion(MODEL, HELLO)
        stream = await c.completion(MODEL, HELLO, stream=True)
        assert isinstance(stream, gatewise.AsyncStream)
        async for _ in stream:
            pass
        fake_mistral.script(Status(500))
        with pytest.raises(gatewise.InternalServerError):
            await c.completion(MODEL, HELLO)
    assert [k for k, _ in awaited.events] == ["success", "success", "failure"]
    # A Callback's async methods default to its blocking ones.
    assert [k for k, *_ in plain.events] == ["success", "success", "failure"]
    assert awaited.events[1][1].stream and awaited.events[1][1].ttft is not None
    assert awaited.events[2][1].status == 500


def test_a_raising_callback_never_breaks_the_call(fake_mistral: FakeMistral,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    after = Recorder()
    with caplog.at_level(logging.ERROR, "gatewise.callbacks"), \
            client(fake_mistral, Raising(), after) as c:
        assert c.completion(MODEL, HELLO).choices
        fake_mistral.script(Status(400))
        with pytest.raises(gatewise.BadRequestError):  # the call's own error, not the bug
            c.completion(MODEL, HELLO)
        chunks = list(c.completion(MODEL, HELLO, stream=True))  # type: ignore[arg-type]
        assert chunks
    assert [k for k, *_ in after.events] == ["success", "failure", "success"]
    failures = [r for r in caplog.records if "Raising failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info for r in failures)


async def test_a_raising_async_callback_never_breaks_the_call(fake_mistral: FakeMistral
                                                              ) -> None:
    class Bad:
        async def async_log_success_event(self, record: RequestRecord, response: Any) -> None:
            raise RuntimeError("boom")

    async with aclient(fake_mistral, Bad()) as c:
        assert (await c.completion(MODEL, HELLO)).choices


def test_router_reports_deployment_retries_and_fallbacks(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    params = {"model": MODEL, "api_key": "test-key", "api_base": fake_mistral.base_url}
    router = gatewise.Router([
        {"model_name": "small", "params": params, "model_info": {"id": "a"}},
        {"model_name": "large", "params": params, "model_info": {"id": "b"}}],
        fallbacks=[{"small": ["large"]}], num_retries=0, callbacks=[seen])
    fake_mistral.script(Status(500))
    with router:
        router.completion("small", HELLO)
        chunks = list(router.completion("small", HELLO, stream=True))  # type: ignore[arg-type]
        assert chunks
        fake_mistral.script(Status(400))
        with pytest.raises(gatewise.BadRequestError):
            router.embedding("small", "x")
    (_, first, _), (_, streamed, _), (kind, failed, _) = seen.events
    assert first.model_group == "small" and first.deployment_id == "b"
    assert first.model == MODEL and first.fallbacks == 1 and first.status == 200
    assert streamed.stream and streamed.deployment_id == "a" and streamed.ttft is not None
    assert kind == "failure" and failed.route == "embeddings" and failed.status == 400


async def test_async_router_reports(fake_mistral: FakeMistral) -> None:
    seen = Recorder()
    params = {"model": MODEL, "api_key": "test-key", "api_base": fake_mistral.base_url}
    embed = {**params, "model": "mistral/mistral-embed"}
    router = gatewise.Router([{"model_name": "small", "params": params},
                              {"model_name": "embed", "params": embed}], callbacks=[seen])
    async with router:
        await router.acompletion("small", HELLO)
        stream = await router.acompletion("small", HELLO, stream=True)
        async for _ in stream:  # type: ignore[union-attr]
            pass
        await router.aembedding("embed", "x")
    assert [(r.route, r.stream, r.status) for _, r, _ in seen.events] == [
        ("chat", False, 200), ("chat", True, 200), ("embeddings", False, 200)]


def test_calls_without_callbacks_are_not_watched(fake_mistral: FakeMistral,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No callbacks and no tracer provider: the call takes its plain path."""
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("watched")

    monkeypatch.setattr(_observe.Watched, "__init__", never)
    assert not _observe.tracing()
    with client(fake_mistral) as c:
        assert c.completion(MODEL, HELLO).choices
        assert list(c.completion(MODEL, HELLO, stream=True))  # type: ignore[arg-type]


def test_a_failed_routed_call_says_what_was_tried(fake_mistral: FakeMistral) -> None:
    """Every attempt failed: the record still has the retries, the fallbacks, the last
    deployment tried and its model."""
    seen = Recorder()
    params = {"model": MODEL, "api_key": "test-key", "api_base": fake_mistral.base_url}
    router = gatewise.Router([
        {"model_name": "small", "params": params, "model_info": {"id": "a"}},
        {"model_name": "large", "params": {**params, "model": "mistral/mistral-large-latest"},
         "model_info": {"id": "b"}}],
        fallbacks=[{"small": ["large"]}], num_retries=0, callbacks=[seen])
    fake_mistral.script(Status(500), Status(500))
    with router, pytest.raises(gatewise.InternalServerError) as raised:
        router.completion("small", HELLO)
    [(kind, record, error)] = seen.events
    assert kind == "failure" and error is raised.value
    assert (record.status, record.fallbacks) == (500, 1)
    assert record.retries == raised.value.attempted_retries  # type: ignore[attr-defined]
    assert (record.deployment_id, record.model) == ("b", "mistral/mistral-large-latest")
    assert record.model_group == "small"
