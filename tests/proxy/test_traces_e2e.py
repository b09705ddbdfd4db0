"""OpenTelemetry through the real CLI, into a real OTLP/HTTP receiver (``tests._otlp``: a
local HTTP server decoding the protobuf payload): a span per request continuing the
client's ``traceparent``, a child span per attempt whose ``traceparent`` goes upstream,
GenAI attributes, errors as status and exception events, no secret and no message content;
with the collector down, requests are served as before and the outage is one log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._net import free_port
from tests._otlp import Receiver, Span, start_receiver
from tests.fake_mistral import FakeMistral, Status
from tests.proxy._server import run_proxy_with
from tests.proxy.conftest import HELLO

MASTER = "sk-traces-master-key"
SMALL = "mistral/mistral-small-latest"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3
ERROR = 2


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found, server = start_receiver()
    yield found
    server.shutdown()


def config(fake: FakeMistral) -> dict[str, Any]:
    params = {"model": SMALL, "api_key": "test-key", "api_base": fake.base_url}
    return {
        "model_list": [
            {"model_name": "small", "litellm_params": params, "model_info": {"id": "a"}},
            {"model_name": "small", "litellm_params": params, "model_info": {"id": "b"}}],
        "router_settings": {"num_retries": 1, "allowed_fails": 100, "retry_backoff": 0.01},
        "litellm_settings": {"callbacks": ["otel"]},
        "general_settings": {"master_key": MASTER}}


def env(endpoint: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "gatewise-under-test", "OTEL_EXPORTER_OTLP_TIMEOUT": "2"}


def chat(url: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {MASTER}", **(headers or {})},
                      json={"model": "small", "messages": HELLO, **body})


def children(spans: list[Span], parent: Span) -> list[Span]:
    return sorted((s for s in spans if s.parent_id == parent.span_id), key=lambda s: s.start)


def test_spans_continue_the_clients_trace(fake_mistral: FakeMistral, receiver: Receiver,
                                          tmp_path: Path) -> None:
    with run_proxy_with(config(fake_mistral), tmp_path, env(receiver.endpoint)) as proxy:
        fake_mistral.script(Status(500))  # the first attempt fails, the retry serves
        answer = chat(proxy.url, {"traceparent": f"00-{TRACE}-{PARENT}-01"},
                      temperature=0.4, max_tokens=32, seed=7)
        assert answer.status_code == 200
        call_id = answer.headers["x-gatewise-call-id"]
        with httpx.stream("POST", proxy.url + "/v1/chat/completions",
                          headers={"authorization": f"Bearer {MASTER}"},
                          json={"model": "small", "messages": HELLO, "stream": True}) as s:
            assert [line for line in s.iter_lines() if line][-1] == "data: [DONE]"
        assert chat(proxy.url, model="nope").status_code == 404
        spans = receiver.wait_for(lambda found: len(found) >= 6)
    upstream = [r.headers.get("traceparent") for r in fake_mistral.requests]

    [request] = [s for s in spans if s.trace_id == TRACE and s.kind == SERVER]
    assert request.parent_id == PARENT and request.name == "chat small"
    attributes = request.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "small"
    assert attributes["gen_ai.response.model"] == "mistral-small-latest"
    assert attributes["gen_ai.provider.name"] == "mistral_ai"
    assert attributes["gen_ai.request.temperature"] == 0.4
    assert attributes["gen_ai.request.max_tokens"] == 32
    assert attributes["gen_ai.request.seed"] == 7
    assert attributes["gen_ai.usage.input_tokens"] == answer.json()["usage"]["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == answer.json()["usage"][
        "completion_tokens"]
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gatewise.call_id"] == call_id and attributes["gatewise.retries"] == 1
    assert attributes["http.response.status_code"] == 200
    assert request.resource["service.name"] == "gatewise-under-test"
    failed, served = children(spans, request)
    for attempt in (failed, served):
        assert attempt.kind == CLIENT and attempt.trace_id == TRACE
        assert attempt.name == "chat mistral-small-latest"
        assert attempt.attributes["server.address"] == "127.0.0.1"
    assert failed.status_code == ERROR and failed.attributes["error.type"] == (
        "InternalServerError")
    assert failed.events[0][0] == "exception"
    assert served.status_code != ERROR and served.attributes["gen_ai.usage.output_tokens"] > 0
    assert {failed.attributes["gatewise.deployment"],
            served.attributes["gatewise.deployment"]} == {"a", "b"}
    # Each attempt's own span went upstream as its traceparent.
    assert upstream[0].startswith(f"00-{TRACE}-{failed.span_id}-")
    assert upstream[1].startswith(f"00-{TRACE}-{served.span_id}-")

    # A request without a traceparent starts a trace; its attempt ends with its stream.
    [streamed] = [s for s in spans if s.kind == SERVER and s.attributes.get(
        "gen_ai.request.stream")]
    assert streamed.parent_id == "" and streamed.trace_id != TRACE
    assert streamed.attributes["gatewise.time_to_first_token_s"] > 0
    [attempt] = children(spans, streamed)
    assert attempt.end <= streamed.end and upstream[2].startswith(
        f"00-{streamed.trace_id}-{attempt.span_id}-")
    # A refused request: its span says why.
    [refused] = [s for s in spans if s.attributes.get("http.response.status_code") == 404]
    assert refused.status_code == ERROR and refused.events[0][0] == "exception"
    assert refused.attributes["error.type"] == "invalid_request_error"
    # Neither secrets nor message content.
    text = json.dumps([(s.attributes, s.events) for s in spans], default=str)
    for secret in (MASTER, "test-key", "hello from gatewise", "Hello from the fake"):
        assert secret not in text


def test_collector_down_costs_a_log_line(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with run_proxy_with(config(fake_mistral), tmp_path, env(down)) as proxy:
        for _ in range(30):
            answer = chat(proxy.url)
            assert answer.status_code == 200
        deadline = time.monotonic() + 30
        while "cannot export spans" not in proxy.output():
            assert time.monotonic() < deadline, proxy.output()
            time.sleep(0.1)
        for _ in range(10):  # still served while the exporter retries
            assert chat(proxy.url).status_code == 200
    log = proxy.output()
    assert log.count("cannot export spans") == 1, log
    assert "Traceback" not in log and "Failed to export" not in log
