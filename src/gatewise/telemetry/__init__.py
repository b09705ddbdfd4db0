"""The proxy's sinks for metrics, traces and the request log, and the SDK's spans.

Nothing here is imported unless it is configured (``litellm_settings.callbacks``,
``json_logs``) or, for the SDK, unless an application has set an OpenTelemetry tracer
provider:

::

    setup.py        the proxy's telemetry, from its config: sinks, router observer, /metrics
    request_log.py  ``json_logs``: one JSON line per request, written by a thread
    prometheus/     the Prometheus sink (records -> counters and histograms), the state
                    read at scrape time (deployments, budgets, ledger), the exposition,
                    several workers' metrics summed (multiprocess mode)
    otel/           OpenTelemetry: the exporter from the ``OTEL_*`` variables, the GenAI
                    attributes of a record, the proxy's spans (a request and its attempts),
                    the SDK's spans
"""
