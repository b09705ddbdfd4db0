"""Running the app: uvicorn (uvloop + httptools), one process or several, and what startup
tells the user."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

import uvicorn

from gatewise.proxy._protocol import HttpProtocol, ServerShared
from gatewise.proxy.app import CONFIG_ENV, MODELS_ENV, ProxyApp
from gatewise.proxy.config import (
    DEFAULT_CLIENT_TIMEOUT,
    DEFAULT_GRACEFUL_SHUTDOWN,
    DEFAULT_MAX_HEADER_BYTES,
    ProxyConfig,
)
from gatewise.proxy.listener import PerWorkerListener
from gatewise.proxy.state import AppState


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str = "0.0.0.0"
    port: int = 4000
    workers: int = 1
    log_level: str = "info"
    access_log: bool = False
    config_path: str | None = None  # for the workers, which load the config themselves
    models: tuple[str, ...] = ()
    # From general_settings: the request head's limits, and the time in-flight requests
    # get to finish once SIGTERM/SIGINT has stopped new connections.
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    client_timeout: float = DEFAULT_CLIENT_TIMEOUT
    graceful_shutdown_timeout: float = DEFAULT_GRACEFUL_SHUTDOWN


def startup_report(state: AppState) -> list[str]:
    """Warnings worth reading before the first request: config, environment, auth."""
    lines = [f"WARNING: {w}" for w in state.config.warnings]
    for name, deployments in state.missing_env().items():
        dead = [d.config.label for d in deployments if d.model_name in state.unavailable]
        spared = [d.config.label for d in deployments if d.model_name not in state.unavailable]
        if dead:
            lines.append(f"WARNING: {name} is not set: {', '.join(dead)} will answer with an "
                         f"error (\"{name} is not set\") until it is set and the proxy "
                         "restarted")
        if spared:
            lines.append(f"WARNING: {name} is not set: {', '.join(spared)} left out until it "
                         "is set and the proxy restarted (the other deployments of the same "
                         "model_name serve)")
    lines += [f"WARNING: {note}" for note in state.notes]
    url = state.database_url
    if url is not None:
        where = ("general_settings.database_url" if state.config.database_url is not None
                 else "the embedded default; set general_settings.database_url for another")
        lines.append(f"database: {url.shown} ({where})")
    from gatewise.proxy.shared import startup_lines

    lines += startup_lines(state.shared, state.workers, state.share)
    if state.master_key is None:
        bar = "!" * 78
        lines += [
            bar,
            "!! NO MASTER KEY: anyone who can reach this port can use the models (and your",
            "!! API keys' quota). Set general_settings.master_key or GATEWISE_MASTER_KEY.",
            bar,
        ]
    return lines


def telemetry_lines(config: ProxyConfig, port: int, metrics_sock: socket.socket | None
                    ) -> list[str]:
    """Where the metrics, traces and request log go (said once the server listens)."""
    telemetry = config.telemetry
    lines = []
    if telemetry.prometheus:
        where = metrics_sock.getsockname()[1] if metrics_sock is not None else port
        auth = " (master key required)" if telemetry.require_auth_for_metrics else ""
        lines.append(f"metrics: http://localhost:{where}/metrics{auth}")
    if telemetry.otel:
        endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318")
        content = ", prompts and completions included" if telemetry.message_logging else ""
        lines.append(f"traces: OTLP/HTTP to {endpoint}{content}")
    if telemetry.json_logs:
        lines.append("request log: one JSON line per request on stdout")
    return lines


def _uvicorn_config(app: ProxyApp | str, options: ServeOptions) -> uvicorn.Config:
    # loop="auto" is uvloop where it is installed (the proxy extra; not on Windows).
    # uvicorn's own info lines repeat ours: keep it one level quieter at "info".
    level = "warning" if options.log_level == "info" else options.log_level
    # The proxy's own protocol for each connection (see _protocol: leaner than uvicorn's,
    # with the proxy's guards on the request head); uvicorn runs everything around it.
    protocol = partial(HttpProtocol, shared=ServerShared(
        max_head=options.max_header_bytes, head_timeout=options.client_timeout))
    return uvicorn.Config(
        app, host=options.host, port=options.port, workers=options.workers,
        factory=isinstance(app, str), loop="auto", lifespan="on",
        http=cast("type[asyncio.Protocol]", protocol),
        ws="none",  # no route serves WebSockets: an upgrade request is plain HTTP
        log_level=level, access_log=options.access_log, server_header=False,
        proxy_headers=options.access_log,  # only the access log would use the client address
        timeout_graceful_shutdown=options.graceful_shutdown_timeout,  # type: ignore[arg-type]
    )


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.config.port
            if self.servers and self.servers[0].sockets:  # the API's (the first given)
                port = self.servers[0].sockets[0].getsockname()[1]
            self._on_ready(port)


def _keep_exit_code_zero() -> None:
    """uvicorn re-raises the signal it shut down for; by then we are done: exit 0."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


def serve(app: ProxyApp, options: ServeOptions, sock: socket.socket,
          announce: Callable[[int], None], metrics_sock: socket.socket | None = None
          ) -> bool:
    """Serve on ``sock`` (``listener.open_listener``'s) until SIGINT/SIGTERM;
    ``announce(port)`` once it listens.  False if the server could not start (uvicorn has
    logged why).  ``metrics_sock``: ``general_settings.metrics_port``'s, serving
    ``/metrics`` alone."""
    sockets = [sock] if metrics_sock is None else [sock, metrics_sock]
    if options.workers <= 1:
        _keep_exit_code_zero()
        served: object = app
        if metrics_sock is not None:
            from gatewise.proxy.routes.metrics import MetricsPort

            served = MetricsPort(app, metrics_sock.getsockname()[1])
        server = _Server(_uvicorn_config(served, options), announce)  # type: ignore[arg-type]
        server.run(sockets=sockets)
        return server.started
    from uvicorn.supervisors import Multiprocess

    from gatewise.proxy.shared import WORKERS_ENV

    if options.config_path:
        os.environ[CONFIG_ENV] = os.path.abspath(options.config_path)
    else:
        os.environ[MODELS_ENV] = ",".join(options.models)
    os.environ[WORKERS_ENV] = str(options.workers)  # each worker's share of the limits
    config = _uvicorn_config("gatewise.proxy.app:factory", options)
    if isinstance(sock, PerWorkerListener):
        config.backlog = PerWorkerListener.backlog
    announce(sock.getsockname()[1])
    sys.stderr.flush()
    Multiprocess(config, sockets=sockets).run()
    return True
