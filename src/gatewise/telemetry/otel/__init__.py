"""OpenTelemetry traces (the ``otel`` extra: ``pip install 'gatewise[otel]'``).

::

    attributes.py  the GenAI semantic conventions' attributes of a call (pure functions)
    proxy.py       ProxyTracing: a span per request (continuing the client's traceparent),
                   a child span per router attempt carrying the trace upstream
    otlp.py        finished spans -> OTLP protobuf bytes (written directly: fast)
    endpoint.py    the traces URL from an endpoint (LiteLLM's rule, for every variable)
    export.py      the batcher: a bounded queue, a thread, OTLP/HTTP from the OTEL_*
                   variables; an unreachable collector logged once, drops counted
    provider.py    the proxy's pipeline: resource, sampler, batcher (never the global one)
    spans.py, sdk.py  the SDK's spans, in the application's tracer provider
"""
