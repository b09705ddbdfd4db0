"""``create_app(config)``: the proxy as a raw ASGI app (no framework on the hot path).

The app strips an optional ``/v1``, finds the handler in a dict, checks the master key,
and turns whatever a handler raises into OpenAI's error JSON: nothing a client sends can
produce anything else, or take the server down.  ``factory()`` is for uvicorn's
multi-process mode; it reads the config named by the environment the CLI sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os

from gatewise.proxy._asgi import ClientDisconnected, Receive, Scope, Send, respond_error
from gatewise.proxy.access.identity import IDENTITY
from gatewise.proxy.config import ProxyConfig, config_for_models, load_config
from gatewise.proxy.errors import ProxyError, internal_error, shutting_down
from gatewise.proxy.exchange import EXCHANGE, Exchange
from gatewise.proxy.routes import (
    MODEL_ROUTES,
    PREFIX_ROUTES,
    PUBLIC,
    RECORDED_HANDLERS,
    ROUTES,
    Handler,
)
from gatewise.proxy.state import AppState

__all__ = ["CONFIG_ENV", "MODELS_ENV", "ProxyApp", "create_app", "factory"]

CONFIG_ENV = "GATEWISE_PROXY_CONFIG"
MODELS_ENV = "GATEWISE_PROXY_MODELS"
logger = logging.getLogger("gatewise.proxy")


def _not_found(scope: Scope) -> ProxyError:
    shown = scope["path"][:200]
    return ProxyError(404, f"Unknown request URL: {scope['method']} {shown}. The proxy serves "
                           "OpenAI's /v1/chat/completions, /v1/completions, /v1/embeddings, "
                           "/v1/moderations, /v1/audio/transcriptions and /v1/models, "
                           "Mistral's /v1/ocr, /v1/fim/completions, /v1/classifications and "
                           "/mistral/* (anything else), the management API (/key/*, /team/*, "
                           "/user/*, /customer/*, /spend/*) and /health",
                      code="unknown_url")


class ProxyApp:
    """An ASGI app; ``state`` holds everything its handlers share."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The HTTP case is written out here rather than in a method of its own: every
        # resumption of a request passes through each coroutine frame it is awaited from.
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/v1/"):
            path = path[3:]
        if len(path) > 1 and path[-1] == "/":
            path = path.rstrip("/") or "/"
        state = self.state
        # A model request's exchange: its record, and the admission to settle, whatever
        # happens below (the one place a request's end is seen: see exchange.py).
        exchange: Exchange | None = None
        try:
            methods = ROUTES.get(path) or _prefix_route(path)
            if methods is None:
                raise _not_found(scope)
            handler = methods.get(scope["method"])
            if handler is None:
                raise ProxyError(405, f"{scope['method']} is not allowed on {path}; use "
                                      f"{', '.join(methods)}", code="method_not_allowed")
            if path not in PUBLIC:
                access = state.access
                identity = access.identify(scope)
                if identity is None:  # a key not cached yet
                    identity = await access.load(scope)
                scope[IDENTITY] = identity
                route = MODEL_ROUTES.get(path) or RECORDED_HANDLERS.get(handler)
                if route is not None:
                    exchange = scope[EXCHANGE] = Exchange(
                        state, route, identity, state.new_call_id(), scope["headers"])
            await handler(state, scope, receive, send)
        except ProxyError as error:
            if exchange is not None:
                exchange.failed(error.status, error.type, error.source)
            await respond_error(send, error)
        except ClientDisconnected:
            if exchange is not None:
                exchange.abandoned()
        except asyncio.CancelledError:
            # Only the server cancels a request: its graceful-shutdown period is over.  Say
            # so rather than vanish (a stream has sent its last event already), and end.
            if exchange is not None:
                exchange.failed(503, "server_shutting_down")
            with contextlib.suppress(Exception):
                await respond_error(send, shutting_down())
        except Exception:
            call_id = (exchange.call_id if exchange is not None else state.new_call_id()
                       ).decode()
            if exchange is not None:
                exchange.failed(500, "internal_error")
            logger.exception("call %s: unexpected error on %s %s", call_id, scope["method"],
                             path[:200])
            # If the answer had started, this fails and the server closes the connection.
            with contextlib.suppress(RuntimeError):
                await respond_error(send, internal_error(call_id))
        finally:
            if exchange is not None:
                if not exchange.record.status:
                    exchange.record.status = 200
                if exchange.unsettled:  # (most are settled: no await, no coroutine made)
                    await exchange.settle()
                exchange.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The router and its client were built with the app (so a bad config fails
                # before the server binds); the client's pool opens in this loop on first use.
                # Everything loaded so far lives as long as the process: keep the garbage
                # collector from walking it again and again under load.
                await self.state.start()
                gc.collect()
                gc.freeze()
                self.state.big_answers.tune_allocator()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _prefix_route(path: str) -> dict[str, Handler] | None:
    for prefix, methods in PREFIX_ROUTES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return methods
    return None


def create_app(config: ProxyConfig, *, workers: int = 1) -> ProxyApp:
    """Build the app; raises ``ConfigError`` when a deployment's params cannot work.
    ``workers``: how many processes serve it (each keeps its share of every limit when
    there is no Redis to share them)."""
    return ProxyApp(AppState(config, workers=workers))


def factory() -> ProxyApp:
    """For ``uvicorn gatewise.proxy.app:factory --factory``: the config comes from
    ``GATEWISE_PROXY_CONFIG`` (a path) or ``GATEWISE_PROXY_MODELS`` (comma-separated).
    With ``general_settings.metrics_port``, the app behind its two sockets."""
    from gatewise.proxy.shared import workers_from_env

    path = os.environ.get(CONFIG_ENV)
    models = os.environ.get(MODELS_ENV)
    workers = workers_from_env()
    if path:
        app = create_app(load_config(path), workers=workers)
    elif models:
        app = create_app(config_for_models(models.split(",")), workers=workers)
    else:
        raise RuntimeError(f"set {CONFIG_ENV} to a config file (or {MODELS_ENV}) to use "
                           "factory()")
    port = app.state.config.metrics_port
    if port is not None:
        from gatewise.proxy.routes.metrics import MetricsPort

        return MetricsPort(app, port)  # type: ignore[return-value]
    return app
