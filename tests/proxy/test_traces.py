"""Traces in process: message content only with ``message_logging``, a client's malformed
``traceparent`` starts a new trace, ``OTEL_SDK_DISABLED`` turns tracing off, LiteLLM's
``OTEL_ENDPOINT`` / ``OTEL_HEADERS`` are where the spans go."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._otlp import Receiver, start_receiver
from tests.proxy.conftest import HELLO, call, make_app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found, server = start_receiver()
    yield found
    server.shutdown()


def env(receiver: Receiver, **more: str) -> dict[str, str]:
    """The variables, as the config reads them (at load, never from the process later)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50",
            **more}


def config(**extra: Any) -> dict[str, Any]:
    return {"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "a mocked answer"}}],
        "litellm_settings": {"callbacks": ["otel"]}, **extra}


async def test_message_logging_records_prompts_and_completions(receiver: Receiver) -> None:
    app = make_app(config(callback_settings={"otel": {"message_logging": True}}),
                   env(receiver))
    await app.state.start()
    try:
        answer = await call(app, "POST", "/chat/completions",
                            {"model": "demo", "messages": HELLO},
                            headers={"traceparent": "00-zz-not-a-trace-01"})
        assert answer.status == 200
        [request] = [s for s in receiver.wait_for(lambda found: len(found) >= 2)
                     if s.kind == 2]
    finally:
        await app.state.aclose()
    assert "hello from gatewise" in request.attributes["gen_ai.input.messages"]
    assert "a mocked answer" in request.attributes["gen_ai.output.messages"]
    assert request.parent_id == ""  # a traceparent that is not one: a new trace


async def test_content_is_left_out_by_default(receiver: Receiver) -> None:
    app = make_app(config(), env(receiver))
    await app.state.start()
    try:
        await call(app, "POST", "/chat/completions", {"model": "demo", "messages": HELLO})
        spans = receiver.wait_for(lambda found: len(found) >= 2)
    finally:
        await app.state.aclose()
    for span in spans:
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes)


async def test_sdk_disabled(receiver: Receiver) -> None:
    app = make_app(config(), env(receiver, OTEL_SDK_DISABLED="true"))
    await app.state.start()
    try:
        assert (await call(app, "POST", "/chat/completions",
                           {"model": "demo", "messages": HELLO})).status == 200
        assert not app.state.sinks.details and not app.state.sinks.openers
    finally:
        await app.state.aclose()
    assert receiver.spans == []


async def test_litellms_variable_names(receiver: Receiver) -> None:
    app = make_app(config(), {"OTEL_EXPORTER": "otlp_http", "OTEL_BSP_SCHEDULE_DELAY": "50",
                              "OTEL_ENDPOINT": receiver.endpoint + "/v1/traces",
                              "OTEL_HEADERS": "x-collector-key=sk-otel"})
    await app.state.start()
    try:
        await call(app, "POST", "/chat/completions", {"model": "demo", "messages": HELLO})
        assert len(receiver.wait_for(lambda found: len(found) >= 2)) >= 2
    finally:
        await app.state.aclose()
    assert receiver.headers[-1].get("x-collector-key") == "sk-otel"
