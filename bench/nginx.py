"""The fixed-answer upstream: nginx (one worker) serving recorded Mistral answers.

nginx cannot look into a request body, so the answer is chosen by path:

- ``POST /v1/chat/completions``          -> the recorded chat completion (``data/chat.json``)
- ``POST /stream/v1/chat/completions``   -> a recorded-shape stream of ``EVENTS`` SSE events
- ``POST /v1/embeddings``                -> one 1024-float ``mistral-embed`` vector
- ``POST /faulty/v1/chat/completions``   -> the chat answer, or a Mistral-shaped 500 (1.5 %),
  503 (1.5 %) or 429 (0.02 %), chosen by ``split_clients`` on the request id: the soak
  scenario's upstream faults (``/faulty/stream/...``: 500 for 1.5 % of streams)
- ``POST /slow/v1/chat/completions``, ``/slow/stream/v1/chat/completions`` -> the same
  answers at a few hundred bytes/s resp. 16 kB/s (about 3 s each): requests still in flight
  when the soak scenario sends SIGTERM
- ``POST /paced/stream/v1/chat/completions`` -> the stream, written 256 bytes at a time
  (``PACED_BUFFER``) under ``limit_rate PACED_RATE``: 164 reads of 256 bytes and ~0.5 s a
  stream (measured) for whoever relays it, as a stream generated token by token gives
- ``GET /health/readiness``              -> 200

The proxy's config points its streaming deployment at ``/stream/v1`` (the reference
forwarder does the same for bodies asking for a stream).  Static files answer POSTs through
``error_page 405`` (nginx's static module refuses POST), which costs nothing measurable.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from bench.procs import LOAD_CPU, Service
from bench.upstream import stream_body

DATA = Path(__file__).parent / "data"
EVENTS = 200  # chat.completion.chunk events per recorded stream (plus the [DONE] line)
PACED_BUFFER, PACED_RATE = 256, "64k"

_ERROR_500 = ('{"object":"error","message":"Service unavailable.","type":"internal_server_error",'
              '"param":null,"code":"1000"}')
_ERROR_429 = ('{"object":"error","message":"Requests rate limit exceeded","type":'
              '"rate_limited","param":null,"code":"1300"}')


def embedding_body(dimensions: int = 1024, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    vector = [round(rng.uniform(-0.1, 0.1), 7) for _ in range(dimensions)]
    return json.dumps({
        "id": "3d5f6b1c9a2e4f0b8c7d6e5f4a3b2c1d", "object": "list", "model": "mistral-embed",
        "data": [{"object": "embedding", "embedding": vector, "index": 0}],
        "usage": {"prompt_tokens": 6, "total_tokens": 6, "completion_tokens": 0},
    }, separators=(",", ":")).encode()


def write_files(root: Path) -> None:
    """The answers, readable by nginx's worker user (``www-data`` when started as root)."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    for directory in (root.parent, root, root / "files"):
        directory.chmod(0o755)
    (root / "files" / "chat.json").write_bytes((DATA / "chat.json").read_bytes().strip())
    (root / "files" / "stream.sse").write_bytes(stream_body(EVENTS))
    (root / "files" / "embeddings.json").write_bytes(embedding_body())
    (root / "logs").mkdir(exist_ok=True)


def config(root: Path, port: int) -> str:
    files = root / "files"
    return f"""
worker_processes 1;
daemon off;
master_process on;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp_body;
    proxy_temp_path {root}/tmp_proxy;
    fastcgi_temp_path {root}/tmp_fastcgi;
    uwsgi_temp_path {root}/tmp_uwsgi;
    scgi_temp_path {root}/tmp_scgi;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_buffer_size 1m;
    server_tokens off;
    etag off;
    types {{ }}
    split_clients "${{request_id}}" $fault {{
        1.5% "500";
        1.5% "503";
        0.02% "429";
        * "";
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096 reuseport;
        location = /health/readiness {{ return 200 "ok"; }}
        location = /v1/chat/completions {{
            default_type application/json;
            error_page 405 =200 /_files/chat.json;
            return 405;
        }}
        location = /stream/v1/chat/completions {{
            default_type "text/event-stream; charset=utf-8";
            error_page 405 =200 /_files/stream.sse;
            return 405;
        }}
        location = /v1/embeddings {{
            default_type application/json;
            error_page 405 =200 /_files/embeddings.json;
            return 405;
        }}
        location = /faulty/v1/chat/completions {{
            default_type application/json;
            if ($fault = "500") {{ return 500 '{_ERROR_500}'; }}
            if ($fault = "503") {{ return 503 '{_ERROR_500}'; }}
            if ($fault = "429") {{ return 429 '{_ERROR_429}'; }}
            error_page 405 =200 /_files/chat.json;
            return 405;
        }}
        location = /faulty/stream/v1/chat/completions {{
            default_type "text/event-stream; charset=utf-8";
            if ($fault = "500") {{ return 500 '{_ERROR_500}'; }}
            error_page 405 =200 /_files/stream.sse;
            return 405;
        }}
        location = /slow/v1/chat/completions {{
            set $limit_rate 150;
            default_type application/json;
            error_page 405 =200 /_files/chat.json;
            return 405;
        }}
        location = /slow/stream/v1/chat/completions {{
            set $limit_rate 16k;
            default_type "text/event-stream; charset=utf-8";
            error_page 405 =200 /_files/stream.sse;
            return 405;
        }}
        location = /paced/stream/v1/chat/completions {{
            default_type "text/event-stream; charset=utf-8";
            error_page 405 =200 /_files/paced.sse;
            return 405;
        }}
        location = /_files/chat.json {{
            internal; default_type application/json; alias {files}/chat.json;
        }}
        location = /_files/embeddings.json {{
            internal; default_type application/json; alias {files}/embeddings.json;
        }}
        location = /_files/stream.sse {{
            internal; default_type "text/event-stream; charset=utf-8";
            alias {files}/stream.sse;
        }}
        location = /_files/paced.sse {{
            internal; default_type "text/event-stream; charset=utf-8";
            alias {files}/stream.sse;
            sendfile off; output_buffers 1 {PACED_BUFFER}; postpone_output 0;
            limit_rate {PACED_RATE};
        }}
    }}
}}
"""


def service(root: Path, port: int) -> Service:
    """nginx as a :class:`Service` on the load generator's core (it is never the bottleneck:
    it serves the recorded answers several times faster than either server asks)."""
    write_files(root)
    conf = root / "nginx.conf"
    conf.write_text(config(root, port))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return Service("nginx", [binary, "-c", str(conf), "-p", str(root), "-e",
                             str(root / "logs" / "error.log")],
                   port=port, cpu=LOAD_CPU, log=root / "logs" / "stdout.log")
