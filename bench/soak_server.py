"""``gatewise`` as the soak scenario runs it: the real CLI, one worker, plus one extra route,
``GET /_bench/probe``, answering the number of live asyncio tasks (and gc-tracked objects),
which no outside tool can see.  Everything else is the unmodified proxy.

Run: ``python -m bench.soak_server --config proxy.yaml --port 4000``.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

PROBE_PATH = "/_bench/probe"


def _install_probe() -> None:
    import orjson

    from gatewise.proxy.app import ProxyApp

    serve = ProxyApp.__call__

    async def call(self: ProxyApp, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == PROBE_PATH:
            body = orjson.dumps({"tasks": len(asyncio.all_tasks()),
                                 "gc_objects": len(gc.get_objects())})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await serve(self, scope, receive, send)

    ProxyApp.__call__ = call  # type: ignore[method-assign]


def main() -> int:
    _install_probe()
    from gatewise.cli import main as gatewise_main

    code: int = gatewise_main(sys.argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main())
