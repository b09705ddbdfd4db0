"""The proxy's span encoder and batcher: the bytes are OpenTelemetry's own encoder's (both
parsed and compared), a collector that is down or slow costs the request path nothing
(bounded queue, drops counted, one log line), what is queued is sent on close."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from gatewise.telemetry.otel.export import ExportSettings, SpanBatcher
from gatewise.telemetry.otel.otlp import CLIENT, ERROR, SERVER, Encoder, SpanData
from gatewise.telemetry.otel.proxy import parse_traceparent
from tests._net import free_port
from tests._otlp import Receiver, start_receiver

RESOURCE = {"service.name": "gw", "deployment.environment": "test", "n": 3}
ATTRIBUTES = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 12,
              "negative": -7, "huge": 2**62, "cost": 0.00125, "stream": True, "off": False,
              "gen_ai.response.finish_reasons": ["stop", "length"], "numbers": [1, 2],
              "empty": "", "unicode": "héllo ✓", "long": "x" * 300}


def _ours(n: int) -> SpanData:
    events = [(1_700_000_000_000_000_500, "exception",
               {"exception.type": "X", "exception.message": "m"})] if n % 2 else []
    return SpanData(0xABC + n, 0x123 + n, 0x456 if n % 3 else 0, f"chat small {n}",
                    SERVER if n % 2 else CLIENT, 1_700_000_000_000_000_000 + n,
                    1_700_000_000_100_000_000 + n, ATTRIBUTES, parent_remote=n % 4 == 1,
                    trace_state="vendor=a,other=b" if n % 5 == 0 else "", events=events,
                    status_code=ERROR if n % 2 else 0, status_message="HTTP 500" if n % 2
                    else "")


def _theirs(span: SpanData, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    state = TraceState.from_header([span.trace_state]) if span.trace_state else None
    parent = (SpanContext(span.trace_id, span.parent_id, span.parent_remote, TraceFlags(1))
              if span.parent_id else None)
    return ReadableSpan(
        span.name, SpanContext(span.trace_id, span.span_id, False, TraceFlags(1), state),
        parent, resource, span.attributes,
        [Event(name, attrs, at) for at, name, attrs in span.events],
        kind={SERVER: SpanKind.SERVER, CLIENT: SpanKind.CLIENT}[span.kind],
        status=Status(StatusCode(span.status_code), span.status_message or None),
        start_time=span.start, end_time=span.end, instrumentation_scope=scope)


def test_the_bytes_are_opentelemetrys() -> None:
    resource = Resource(RESOURCE)
    scope = InstrumentationScope("gatewise.proxy", "0.1.0")
    spans = [_ours(n) for n in range(12)]
    ours = ExportTraceServiceRequest()
    ours.ParseFromString(Encoder(RESOURCE, "gatewise.proxy", "0.1.0").request(spans))
    theirs = ExportTraceServiceRequest()
    theirs.ParseFromString(encode_spans([_theirs(s, resource, scope) for s in spans])
                           .SerializeToString())
    assert ours == theirs
    assert len(ours.resource_spans[0].scope_spans[0].spans) == 12


@pytest.mark.parametrize(("header", "parsed"), [
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
     (0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, 1)),
    (" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ",
     (0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, 0)),
    ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
     (0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, 1)),
    ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),  # upper case
    ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # zero trace
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),  # zero parent
    ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
    ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),
    ("not a traceparent", None), ("", None)])
def test_traceparent(header: str, parsed: tuple[int, int, int] | None) -> None:
    assert parse_traceparent(header) == parsed


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found, server = start_receiver()
    yield found
    server.shutdown()


def _batcher(url: str, **settings: float) -> SpanBatcher:
    return SpanBatcher(Encoder(RESOURCE, "t"), ExportSettings(
        url=url, timeout=2.0, delay=settings.get("delay", 0.05),
        queue_size=int(settings.get("queue_size", 2048)),
        batch_size=int(settings.get("batch_size", 512))))


def test_batches_reach_the_collector_and_close_sends_the_rest(receiver: Receiver) -> None:
    batcher = _batcher(receiver.endpoint + "/v1/traces", batch_size=10, delay=30.0)
    for n in range(25):
        batcher.add(_ours(n))
    receiver.wait_for(lambda spans: len(spans) >= 20)  # two full batches, at once
    batcher.close()  # the last five, without waiting for the timer
    assert len(receiver.spans) == 25 and batcher.sent == 25 and batcher.dropped == 0
    assert receiver.headers[0]["Content-Type"] == "application/x-protobuf"


def test_a_dead_collector_costs_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    batcher = _batcher(f"http://127.0.0.1:{free_port()}/v1/traces", queue_size=50)
    with caplog.at_level(logging.WARNING, "gatewise.telemetry"):
        for n in range(200):  # adding never waits on the network
            batcher.add(_ours(n))
        deadline = time.monotonic() + 20
        while batcher.failing is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        batcher.close(timeout=0.5)
    assert batcher.dropped == 200 and batcher.sent == 0
    assert [r.message.startswith("traces: cannot export spans") for r in caplog.records] == [
        True]


def test_a_silent_collector_never_holds_the_caller() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(100)
        batcher = _batcher(f"http://127.0.0.1:{silent.getsockname()[1]}/v1/traces")
        for n in range(100):
            batcher.add(_ours(n))
        batcher.close(timeout=0.2)
        assert batcher.sent == 0


def test_settings_from_the_environment() -> None:
    settings = ExportSettings.from_env({
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret, x-team = a",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2.5", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1000"})
    assert settings.url == "https://collector.example:4318/v1/traces"
    assert dict(settings.headers) == {"api-key": "s=cret", "x-team": "a"}
    assert settings.timeout == 2.5 and settings.gzip and settings.delay == 0.2
    assert settings.queue_size == 100 and settings.batch_size == 100
    assert "s=cret" not in repr(settings)
    assert ExportSettings.from_env({
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9/custom/path",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored"}).url == "http://c:9/custom/path"
    assert ExportSettings.from_env({}).url == "http://localhost:4318/v1/traces"
    for base, url in (("http://c:4318/v1/traces/", "http://c:4318/v1/traces"),
                      ("http://c:4318/v1", "http://c:4318/v1/traces"),
                      ("http://c:4318/v1/logs", "http://c:4318/v1/traces")):
        # a base naming the traces path (or another signal's): not doubled
        assert ExportSettings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base}).url == url


def test_gzip(receiver: Receiver) -> None:
    batcher = SpanBatcher(Encoder(RESOURCE, "t"), ExportSettings(
        url=receiver.endpoint + "/v1/traces", gzip=True, delay=0.05))
    batcher.add(_ours(1))
    batcher.close()
    assert len(receiver.spans) == 1 and receiver.headers[0]["Content-Encoding"] == "gzip"
