"""The proxy's tracer provider: spans batched on a background thread and exported over
OTLP/HTTP (protobuf), configured by the standard variables -- ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``..._TRACES_ENDPOINT``), ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT``,
``..._COMPRESSION``, ``OTEL_SERVICE_NAME`` (default ``gatewise``),
``OTEL_RESOURCE_ATTRIBUTES``; ``OTEL_SDK_DISABLED=true`` turns tracing off.

The provider is the proxy's own, never the process-wide one (``set_tracer_provider``):
an application that embeds the proxy keeps its own.  A collector that is down or refuses
costs the request path nothing: spans wait in the processor's bounded queue (2,048),
those it cannot hold are dropped and counted, and the outage is logged once when it
starts and once when it ends -- not per batch, nor per span as the SDK's own loggers would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

__all__ = ["FLUSH_SECONDS", "Outage", "Pipeline", "disabled"]

logger = logging.getLogger("gatewise.telemetry")
_EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_PROCESSOR_LOGGER = "opentelemetry.sdk._shared_internal"
SERVICE_NAME = "gatewise"
FLUSH_SECONDS = 3.0
"""At shutdown, how long the spans still queued may take to export."""


def disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class Outage(logging.Filter):
    """Keeps the SDK's per-batch export errors and per-span "queue full" warnings out of
    the log (the exporter wrapper logs an outage once); counts the spans dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == _PROCESSOR_LOGGER and str(record.msg).startswith("Queue full"):
            self.dropped += 1
            return False
        return not (record.name == _EXPORTER_LOGGER and record.levelno < logging.CRITICAL)


class _LoggedExporter(SpanExporter):
    """The OTLP exporter, its failures logged once per outage."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.where = str(getattr(inner, "_endpoint", "the OTLP collector"))
        self.failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result: SpanExportResult = self._inner.export(spans)
        except Exception as exc:  # never into the processor's thread
            logger.debug("traces: the exporter raised %r", exc)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.FAILURE and not self.failing:
            self.failing = True
            logger.warning("traces: cannot export spans to %s; the proxy serves on, spans "
                           "are dropped while it does not answer (retried)", self.where)
        elif result is SpanExportResult.SUCCESS and self.failing:
            self.failing = False
            logger.warning("traces: exporting spans to %s again", self.where)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))


class Pipeline:
    """A provider exporting to the collector the ``OTEL_*`` variables name."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", "")
        resource = Resource.create({} if named else {"service.name": SERVICE_NAME})
        self.provider = TracerProvider(resource=resource)
        self.outage = Outage()
        for name in (_EXPORTER_LOGGER, _PROCESSOR_LOGGER):
            logging.getLogger(name).addFilter(self.outage)
        self.exporter = _LoggedExporter(OTLPSpanExporter())
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))

    def close(self) -> None:
        """Export what is queued (for at most :data:`FLUSH_SECONDS`), then stop: a
        collector that is down does not hold the proxy's exit."""
        try:
            self.provider.force_flush(int(FLUSH_SECONDS * 1000))
            self.exporter.shutdown()  # ends a retry in progress
            self.provider.shutdown()
        finally:
            for name in (_EXPORTER_LOGGER, _PROCESSOR_LOGGER):
                logging.getLogger(name).removeFilter(self.outage)
