"""``python -m bench.otlp_receiver --port N``: a stand-in OpenTelemetry collector for the
observability scenario -- it takes every ``POST /v1/traces`` (OTLP/HTTP, protobuf), answers
200 at once and counts the requests and the spans in them; ``GET /`` answers 200 (ready)
and ``GET /count`` the counts as JSON.  It runs on the load core: its CPU is the
benchmark's own, as a collector's would be another machine's."""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_counts = {"requests": 0, "spans": 0, "bytes": 0}


def _spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(scope.spans) for resource in request.resource_spans
               for scope in resource.scope_spans)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        _counts["requests"] += 1
        _counts["bytes"] += len(body)
        _counts["spans"] += _spans(body)
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        self._answer(json.dumps(_counts).encode() if self.path == "/count" else b"ok",
                     "application/json")

    def _answer(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
