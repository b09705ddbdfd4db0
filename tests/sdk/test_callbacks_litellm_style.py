"""Callbacks in LiteLLM's ``CustomLogger`` style (``gatewise._callback_styles``): told with
``(kwargs, response_obj, start_time, end_time)``, side by side with gatewise's own style,
by a ``Client``, an ``AsyncClient`` and a ``Router``; one that raises never breaks the
call."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pytest

import gatewise
from gatewise._callback_styles import LiteLLMStyle, styled
from gatewise.callbacks import Callback
from gatewise.record import RequestRecord
from tests.fake_mistral import FakeMistral, Status
from tests.sdk.conftest import HELLO, MODEL

Event = tuple[str, dict[str, Any], Any, datetime, datetime]


class Logger:
    """LiteLLM's CustomLogger shape, without LiteLLM: blocking and async methods."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                          start_time: datetime, end_time: datetime) -> None:
        self.events.append(("success", kwargs, response_obj, start_time, end_time))

    def log_failure_event(self, kwargs: dict[str, Any], response_obj: Any,
                          start_time: datetime, end_time: datetime) -> None:
        self.events.append(("failure", kwargs, response_obj, start_time, end_time))

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: datetime, end_time: datetime) -> None:
        self.events.append(("async_success", kwargs, response_obj, start_time, end_time))

    async def async_log_failure_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: datetime, end_time: datetime) -> None:
        self.events.append(("async_failure", kwargs, response_obj, start_time, end_time))


class Ours(Callback):
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def log_success_event(self, record: RequestRecord, response: Any) -> None:
        self.records.append(record)

    def log_failure_event(self, record: RequestRecord, error: BaseException) -> None:
        self.records.append(record)


def client(fake: FakeMistral, *callbacks: Any) -> gatewise.Client:
    return gatewise.Client(api_key="test-key", api_base=fake.base_url, num_retries=0,
                           callbacks=callbacks)


def test_the_styles_are_told_apart() -> None:
    class CustomLogger:  # LiteLLM's base class, by name and module
        def log_success_event(self, *args: Any) -> None:
            pass

    CustomLogger.__module__ = "litellm.integrations.custom_logger"

    class Subclassed(CustomLogger):
        pass

    class Unrelated:
        pass

    ours, theirs, sub, other = Ours(), Logger(), Subclassed(), Unrelated()
    kept = styled([ours, theirs, sub, other])
    assert kept[0] is ours and kept[3] is other
    assert type(kept[1]) is LiteLLMStyle and kept[1].callback is theirs
    assert type(kept[2]) is LiteLLMStyle


def test_success_kwargs(fake_mistral: FakeMistral) -> None:
    theirs, ours = Logger(), Ours()
    with client(fake_mistral, theirs, ours) as c:
        response = c.completion(MODEL, HELLO, temperature=0.2, api_key="test-key",
                                extra_headers={"x-secret": "hush"}, metadata={"run": 7})
    [(kind, kwargs, response_obj, start, end)] = theirs.events
    [record] = ours.records
    assert kind == "success" and response_obj is response
    assert isinstance(start, datetime) and start <= end
    assert kwargs["model"] == MODEL and kwargs["messages"] is HELLO and kwargs["input"] is HELLO
    assert kwargs["litellm_call_id"] == record.call_id
    assert kwargs["call_type"] == "completion" and kwargs["stream"] is False
    assert kwargs["response_cost"] == record.cost > 0
    assert kwargs["optional_params"] == {"temperature": 0.2}
    assert kwargs["litellm_params"] == {"metadata": {"run": 7}}
    assert kwargs["exception"] is None
    standard = kwargs["standard_logging_object"]
    logged = record.as_dict()
    assert standard["status"] == "success" and standard["status_code"] == logged.pop("status")
    assert {k: standard[k] for k in logged} == logged
    assert standard["id"] == record.call_id
    assert standard["total_tokens"] == response.usage.total_tokens
    assert standard["startTime"] == record.start and standard["error_str"] is None
    assert "hush" not in repr(kwargs) and "test-key" not in repr(kwargs)


def test_failure_and_stream(fake_mistral: FakeMistral) -> None:
    theirs = Logger()
    fake_mistral.script(Status(429))
    with client(fake_mistral, theirs) as c:
        with pytest.raises(gatewise.RateLimitError) as raised:
            c.completion(MODEL, HELLO)
        chunks = list(c.completion(MODEL, HELLO, stream=True,  # type: ignore[arg-type]
                                   stream_options={"include_usage": True}))
    (kind, kwargs, response_obj, _, _), (streamed, skw, sresponse, _, _) = theirs.events
    assert kind == "failure" and response_obj is None
    assert kwargs["exception"] is raised.value
    standard = kwargs["standard_logging_object"]
    assert standard["status"] == "failure" and standard["status_code"] == 429
    assert standard["error_type"] == "rate_limit_error" and standard["error_str"]
    assert streamed == "success" and sresponse is None and skw["stream"] is True
    assert skw["completion_start_time"] is not None
    assert skw["standard_logging_object"]["completion_tokens"] == (
        chunks[-1].usage.completion_tokens)


async def test_async_client_awaits_the_async_methods(fake_mistral: FakeMistral) -> None:
    theirs = Logger()

    class SyncOnly:  # no async twins: the blocking method is called
        def __init__(self) -> None:
            self.kinds: list[str] = []

        def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                              end_time: Any) -> None:
            self.kinds.append(kwargs["call_type"])

    plain = SyncOnly()
    async with gatewise.AsyncClient(api_key="test-key", api_base=fake_mistral.base_url,
                                    num_retries=0, callbacks=[theirs, plain]) as c:
        await c.completion(MODEL, HELLO)
        await c.embedding("mistral/mistral-embed", ["a"])
        fake_mistral.script(Status(500))
        with pytest.raises(gatewise.InternalServerError):
            await c.completion(MODEL, HELLO)
    assert [(k, kw["call_type"]) for k, kw, *_ in theirs.events] == [
        ("async_success", "acompletion"), ("async_success", "aembedding"),
        ("async_failure", "acompletion")]
    assert theirs.events[1][1]["input"] == ["a"]
    assert plain.kinds == ["acompletion", "aembedding"]


def test_router_kwargs(fake_mistral: FakeMistral) -> None:
    theirs = Logger()
    params = {"model": MODEL, "api_key": "test-key", "api_base": fake_mistral.base_url}
    router = gatewise.Router([
        {"model_name": "small", "params": params, "model_info": {"id": "a"}},
        {"model_name": "large", "params": params, "model_info": {"id": "b"}}],
        fallbacks=[{"small": ["large"]}], num_retries=0, callbacks=[theirs])
    fake_mistral.script(Status(500))
    with router:
        router.completion("small", HELLO)
    [(_, kwargs, _, _, _)] = theirs.events
    assert kwargs["model"] == MODEL
    assert kwargs["litellm_params"]["metadata"] == {"model_group": "small", "deployment": "b"}
    standard = kwargs["standard_logging_object"]
    assert standard["model_id"] == "b" and standard["fallbacks"] == 1


def test_a_raising_callback_never_breaks_the_call(fake_mistral: FakeMistral,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Logger):
        def log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                              start_time: datetime, end_time: datetime) -> None:
            raise RuntimeError("a bug in the user's callback")

        def log_failure_event(self, kwargs: dict[str, Any], response_obj: Any,
                              start_time: datetime, end_time: datetime) -> None:
            raise RuntimeError("a bug in the user's callback")

    after = Logger()
    with caplog.at_level(logging.ERROR, "gatewise.callbacks"), \
            client(fake_mistral, Broken(), after) as c:
        assert c.completion(MODEL, HELLO).choices
        fake_mistral.script(Status(400))
        with pytest.raises(gatewise.BadRequestError):
            c.completion(MODEL, HELLO)
    assert [k for k, *_ in after.events] == ["success", "failure"]
    failures = [r for r in caplog.records if "Broken failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)


async def test_a_raising_async_callback_never_breaks_the_call(fake_mistral: FakeMistral
                                                              ) -> None:
    class Broken(Logger):
        async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                                          start_time: datetime, end_time: datetime) -> None:
            raise RuntimeError("boom")

    async with gatewise.AsyncClient(api_key="test-key", api_base=fake_mistral.base_url,
                                    callbacks=[Broken()]) as c:
        assert (await c.completion(MODEL, HELLO)).choices
