"""A router's calls watched for its callbacks and the application's tracer provider
(``gatewise._observe``): the record says which deployment served, after how many retries
and fallbacks; with a tracer provider set, the call is a span and the router's attempts
(its observer, installed on first use) spans under it.  Only called when there is
something to tell: a router without callbacks or tracing routes as it did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gatewise._observe import Watched, tracing
from gatewise.router._attempt import Send
from gatewise.router._sync import sync_stream

if TYPE_CHECKING:
    from gatewise.router.router import Router
    from gatewise.state.ticket import Ticket

__all__ = ["awatched", "watched"]


def _watch(router: Router, route: str, model: str, payload: Any,
           params: Mapping[str, Any]) -> Watched:
    if tracing() and router._engine.caller.observer is None:
        from gatewise.telemetry.otel.sdk import attempt_tracer

        router.observe(attempt_tracer())
    return Watched(router._callbacks, route, model, params, None, payload=payload,
                   routed=True, models=router._models)


async def awatched(router: Router, route: str, send: Send, model: str, payload: Any,
                   params: Mapping[str, Any], admission: Ticket | None) -> Any:
    """Route an async call under watch; its response (a stream: watched to its end)."""
    call = _watch(router, route, model, payload, params)

    async def run() -> Any:
        result = await router._route(send, model, payload, params, admission)
        return call.routed(result, router._models.get(result.deployment_id))

    return await call.acall(run)


def watched(router: Router, route: str, send: Send, model: str, payload: Any,
            params: Mapping[str, Any]) -> Any:
    """The blocking twin of :func:`awatched`."""
    call = _watch(router, route, model, payload, params)

    def run() -> Any:
        result = router._thread.run(router._route(send, model, payload, params))
        response = call.routed(result, router._models.get(result.deployment_id))
        return sync_stream(router._thread, response) if params.get("stream") else response

    return call.call(run)
