"""The SDK's spans, when the application has set an OpenTelemetry tracer provider: a client
span per ``Client`` call (its ``traceparent`` on the upstream request), a span per
``Router`` call with a client span per attempt under it; GenAI attributes, errors.

The provider is process-wide and can be set once: the calls run in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.fake_mistral import FakeMistral

SCRIPT = r"""
import asyncio, json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import gatewise
import gatewise._observe

base = sys.argv[1]
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
assert not gatewise._observe.tracing()
trace.set_tracer_provider(provider)
assert gatewise._observe.tracing()
tracer = trace.get_tracer("app")
hello = [{"role": "user", "content": "hi"}]
model = "mistral/mistral-small-latest"
client = gatewise.Client(api_key="test-key", api_base=base, num_retries=0)
with tracer.start_as_current_span("app-work"):
    client.completion(model, hello, temperature=0.3, max_tokens=20)
    for _ in client.completion(model, hello, stream=True):
        pass
    try:
        client.completion(model, hello, api_key="not-a-key")
    except gatewise.AuthenticationError:
        pass
params = {"model": model, "api_key": "test-key", "api_base": base}
router = gatewise.Router([{"model_name": "small", "params": params, "model_info": {"id": "a"}}])
with router:
    router.completion("small", hello)

async def main():
    async with gatewise.AsyncClient(api_key="test-key", api_base=base) as c:
        await c.embedding("mistral/mistral-embed", "x")

asyncio.run(main())
spans = [{"name": s.name, "trace": f"{s.context.trace_id:032x}", "id": f"{s.context.span_id:016x}",
          "parent": f"{s.parent.span_id:016x}" if s.parent else None, "kind": s.kind.name,
          "status": s.status.status_code.name, "attributes": dict(s.attributes),
          "events": [e.name for e in s.events]} for s in exporter.get_finished_spans()]
print(json.dumps(spans, default=list))
"""


def _spans(fake: FakeMistral) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, fake.base_url], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    spans: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return spans


def test_sdk_spans_with_an_application_tracer_provider(fake_mistral: FakeMistral) -> None:
    spans = _spans(fake_mistral)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    [app] = by_name["app-work"]
    chat = by_name["chat mistral-small-latest"]
    plain, streamed, refused = chat[:3]
    for span in (plain, streamed, refused):
        assert span["parent"] == app["id"] and span["trace"] == app["trace"]
        assert span["kind"] == "CLIENT"
        assert span["attributes"]["gen_ai.provider.name"] == "mistral_ai"
    attributes = plain["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "mistral-small-latest"
    assert attributes["gen_ai.request.temperature"] == 0.3
    assert attributes["gen_ai.request.max_tokens"] == 20
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert "gen_ai.input.messages" not in attributes  # content only when asked for
    assert streamed["attributes"]["gen_ai.request.stream"] is True
    assert refused["status"] == "ERROR" and "exception" in refused["events"]
    assert refused["attributes"]["error.type"] == "authentication_error"
    assert refused["attributes"]["http.response.status_code"] == 401
    # Each call's own span went upstream as its traceparent.
    sent = [r.headers.get("traceparent") for r in fake_mistral.requests]
    assert sent[0].startswith(f"00-{plain['trace']}-{plain['id']}-")
    assert sent[1].startswith(f"00-{streamed['trace']}-{streamed['id']}-")
    # A routed call: its span, an attempt span under it carrying the trace upstream.
    [routed] = by_name["chat small"]
    attempt = next(s for s in chat[3:] if s["parent"] == routed["id"])
    assert attempt["attributes"]["gatewise.deployment"] == "a"
    assert routed["attributes"]["gatewise.deployment"] == "a"
    assert routed["parent"] is None
    assert sent[3].startswith(f"00-{attempt['trace']}-{attempt['id']}-")
    [embedded] = by_name["embeddings mistral-embed"]
    assert embedded["attributes"]["gen_ai.usage.input_tokens"] > 0
