"""The traces URL from an endpoint that may or may not name the traces path already."""

from __future__ import annotations

__all__ = ["traces_url"]


def traces_url(endpoint: str) -> str:
    """``endpoint`` as the OTLP/HTTP traces URL: ``/v1/traces`` added unless there (a
    ``/v1/logs`` or ``/v1/metrics`` one is turned into it; a ``/v1`` one gets ``/traces``),
    as LiteLLM does with its ``OTEL_ENDPOINT``.  No collector serves
    ``.../v1/traces/v1/traces`` or ``.../v1/v1/traces``: the spec's plain concatenation
    would only lose the spans."""
    url = endpoint.rstrip("/")
    if url.endswith("/v1/traces"):
        return url
    for other in ("/v1/logs", "/v1/metrics"):
        if url.endswith(other):
            return url[: -len(other)] + "/v1/traces"
    return url + ("/traces" if url.endswith("/v1") else "/v1/traces")
