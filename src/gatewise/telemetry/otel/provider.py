"""Where the proxy's spans go: the resource they describe (``OTEL_SERVICE_NAME``, default
``gatewise``, and ``OTEL_RESOURCE_ATTRIBUTES``, read by the SDK's ``Resource``), the
sampler (``OTEL_TRACES_SAMPLER`` / ``_ARG``, by the SDK), and the batcher that exports
them (``export``: OTLP/HTTP, the ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_BSP_*`` variables,
as the config read them: ``TelemetrySettings.otel_environ``, LiteLLM's names included);
``OTEL_SDK_DISABLED=true`` turns tracing off.

The pipeline is the proxy's own, never the process-wide tracer provider: an application
that embeds the proxy keeps its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Sampler

from gatewise import __version__
from gatewise.telemetry.otel.export import ExportSettings, SpanBatcher
from gatewise.telemetry.otel.otlp import Encoder

__all__ = ["FLUSH_SECONDS", "SCOPE", "SERVICE_NAME", "Pipeline", "disabled"]

SERVICE_NAME = "gatewise"
SCOPE = "gatewise.proxy"
FLUSH_SECONDS = 3.0
"""At shutdown, how long the spans still queued may take to export."""


def disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class Pipeline:
    """``environ``: the ``OTEL_*`` variables of the exporter (the resource and the sampler
    are the SDK's, read by it from the process' environment)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", "")
        resource = Resource.create({} if named else {"service.name": SERVICE_NAME})
        self.resource = dict(resource.attributes)
        chosen = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
        # None: the default, parent-based and always on, decided without a call.
        self.sampler: Sampler | None = None
        if chosen not in ("", "parentbased_always_on"):
            self.sampler = TracerProvider(resource=resource).sampler  # read from the variables
        self.batcher = SpanBatcher(Encoder(self.resource, SCOPE, __version__),
                                   ExportSettings.from_env(environ))

    def close(self) -> None:
        """Export what is queued (for at most :data:`FLUSH_SECONDS`), then stop: a
        collector that is down does not hold the proxy's exit."""
        self.batcher.close(FLUSH_SECONDS)
