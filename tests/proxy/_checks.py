"""Checks the reliability tests share: OpenAI's error shape, SSE bodies, and what
``/health`` says is still in flight."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from tests.proxy._server import Proxy


def openai_error(body: bytes | dict[str, Any]) -> dict[str, Any]:
    """The ``error`` object of an OpenAI-shaped error body, checked for its exact shape."""
    data = orjson.loads(body) if isinstance(body, bytes) else body
    assert isinstance(data, dict) and set(data) == {"error"}, data
    error = data["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    return error


def sse_data(body: bytes) -> list[bytes]:
    """The ``data:`` payloads of an SSE body, in order; every event must be one."""
    events = [e for e in body.replace(b"\r\n", b"\n").split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events), body[-500:]
    return [e[6:] for e in events]


def final_error_event(body: bytes) -> dict[str, Any]:
    """The stream ended with an OpenAI error event (and no ``[DONE]``): its ``error``."""
    data = sse_data(body)
    assert data, "an empty stream"
    assert b"[DONE]" not in data, "a broken stream must not end as if it were complete"
    for payload in data[:-1]:
        assert b'"error"' not in payload[:10], "the error event must be the last one"
    return openai_error(data[-1])


def in_flight(proxy: Proxy) -> dict[str, int]:
    """Each deployment's in-flight count, as ``/health`` reports it."""
    report = httpx.get(proxy.url + "/health", timeout=5).json()
    entries = report["healthy_endpoints"] + report["unhealthy_endpoints"]
    return {e["id"]: e.get("in_flight", 0) for e in entries}


def assert_nothing_in_flight(proxy: Proxy, within: float = 2.0) -> None:
    """``/health`` shows no request in flight on any deployment (a stream's is released a
    moment after its last byte, so allow ``within`` seconds)."""
    deadline = time.monotonic() + within
    while any((counts := in_flight(proxy)).values()):
        assert time.monotonic() < deadline, f"still in flight: {counts}"
        time.sleep(0.02)


