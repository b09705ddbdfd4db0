"""Prometheus metrics for the proxy (``litellm_settings.callbacks: ["prometheus"]``).

::

    metrics.py    the metric families, their labels and buckets
    sink.py       PrometheusSink: each request's record -> counters and histograms; in
                  flight; the router's attempts and cooldowns (an attempt observer)
    state.py      what is read, not counted: deployments, budgets, the ledger, the sinks
    exposition.py /metrics's body; several workers summed (prometheus_client's
                  multiprocess mode) and the directory it needs
"""
