"""The proxy's telemetry, installed from its config when the app starts serving
(``AppState.start``, in the serving process: nothing of it is made or imported in a
``--workers`` supervisor, nor when nothing is configured).

Each part is a sink of the request records (``gatewise.proxy.record``); the metrics and
the traces are also the router's attempt observer (``gatewise.router.observe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatewise.proxy.state import AppState
    from gatewise.telemetry.prometheus.metrics import Metrics
    from gatewise.telemetry.prometheus.sink import PrometheusSink
    from gatewise.telemetry.prometheus.state import StateGauges

__all__ = ["Telemetry", "install"]

logger = logging.getLogger("gatewise.telemetry")


@dataclass(eq=False)
class Telemetry:
    """What ``/metrics`` serves (None without Prometheus), and the background work."""

    metrics: Metrics | None = None
    gauges: StateGauges | None = None
    sink: PrometheusSink | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def scrape(self) -> tuple[bytes, str]:
        """The metrics as ``/metrics`` answers them: state read now, rendered on a
        thread (a big exposition is not written on the event loop)."""
        from gatewise.telemetry.prometheus.exposition import render

        assert self.metrics is not None
        await self.refresh()
        return await asyncio.to_thread(render, self.metrics.registry)

    async def refresh(self) -> None:
        """Bring the metrics up to date: the state read now, the requests counted since
        the last time."""
        assert self.gauges is not None and self.sink is not None
        await self.gauges.refresh()
        self.sink.flush()

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def install(state: AppState) -> Telemetry:
    """Add the configured sinks to ``state.sinks`` and observe its router."""
    settings = state.config.telemetry
    telemetry = Telemetry()
    observers: list[Any] = []
    log = None
    if settings.json_logs:
        from gatewise.telemetry.request_log import RequestLog

        log = RequestLog()
        state.sinks.add(log)
    if settings.prometheus:
        from gatewise.telemetry.prometheus.exposition import multiprocess
        from gatewise.telemetry.prometheus.metrics import Metrics
        from gatewise.telemetry.prometheus.sink import PrometheusSink
        from gatewise.telemetry.prometheus.state import (
            FLUSH_SECONDS,
            REFRESH_SECONDS,
            StateGauges,
        )

        metrics = telemetry.metrics = Metrics(shared=state.shared is not None)
        sink = telemetry.sink = PrometheusSink(
            metrics, state.served, flush_after=FLUSH_SECONDS if multiprocess() else None)
        state.sinks.add(sink)
        observers.append(sink)
        dropped = (lambda: log.dropped) if log is not None else None
        telemetry.gauges = StateGauges(metrics, state, log_dropped=dropped)
        if multiprocess():  # a scrape answered by another worker shows this one's state
            telemetry.tasks.append(asyncio.get_running_loop().create_task(
                _refresh(telemetry, REFRESH_SECONDS)))
    if settings.otel:
        tracing = _tracing(state)
        if tracing is not None:
            state.sinks.add(tracing)
            observers.append(tracing)
            state.message_logging = settings.message_logging
    if observers and state.served:
        from gatewise.router.observe import Observers

        state.router.observe(observers[0] if len(observers) == 1 else Observers(observers))
    return telemetry


def _tracing(state: AppState) -> Any:
    from gatewise.telemetry.otel.provider import Pipeline, disabled
    from gatewise.telemetry.otel.proxy import ProxyTracing

    environ = state.config.telemetry.otel_environ
    if disabled(environ):
        logger.warning("traces: OTEL_SDK_DISABLED is true; the otel callback is off")
        return None
    pipeline = Pipeline(environ)
    logger.info("traces: exporting spans to %s", pipeline.batcher.where)
    return ProxyTracing(pipeline.batcher, sampler=pipeline.sampler,
                        message_logging=state.config.telemetry.message_logging,
                        close=pipeline.close)


async def _refresh(telemetry: Telemetry, seconds: float) -> None:
    while True:
        await telemetry.refresh()
        await asyncio.sleep(seconds)
