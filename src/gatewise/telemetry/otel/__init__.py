"""OpenTelemetry traces (the ``otel`` extra: ``pip install 'gatewise[otel]'``).

::

    attributes.py  the GenAI semantic conventions' attributes of a call (pure functions)
    provider.py    the proxy's tracer provider: OTLP/HTTP from the OTEL_* variables,
                   batched on a background thread; an unreachable collector logged once
    proxy.py       ProxyTracing: a span per request (continuing the client's traceparent),
                   a child span per router attempt carrying the trace upstream
    sdk.py         the SDK's spans, when the application has set a tracer provider
"""
