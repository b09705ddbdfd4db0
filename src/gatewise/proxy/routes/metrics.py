"""``GET /metrics``: the Prometheus text exposition (``litellm_settings.callbacks:
["prometheus"]``; a 404 otherwise).

Open to anyone, like LiteLLM's, unless ``litellm_settings.require_auth_for_metrics_endpoint``
is set: then the master key (or a proxy admin's key) only.  With
``general_settings.metrics_port`` it is served on that port alone, and that port serves
nothing else (:class:`MetricsPort`): a scraper's network never reaches the API.
"""

from __future__ import annotations

from gatewise.proxy._asgi import Receive, Scope, Send, respond, respond_error
from gatewise.proxy.auth import require_admin
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState

__all__ = ["ON_METRICS_PORT", "MetricsPort", "metrics"]

ON_METRICS_PORT = "gatewise.metrics_port"
PATH = "/metrics"


def _not_served(path: str) -> ProxyError:
    return ProxyError(404, f"Unknown request URL: GET {path[:200]}: metrics are off (add "
                           '"prometheus" to litellm_settings.callbacks)', code="unknown_url")


async def metrics(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    telemetry = state.telemetry
    if telemetry is None or telemetry.metrics is None:
        raise _not_served(scope["path"])
    if state.config.metrics_port is not None and not scope.get(ON_METRICS_PORT):
        raise ProxyError(404, f"metrics are served on port {state.config.metrics_port} "
                              "(general_settings.metrics_port)", code="unknown_url")
    if state.config.telemetry.require_auth_for_metrics:
        await require_admin(state, scope)
    body, content_type = await telemetry.scrape()
    await respond(send, 200, body, [(b"content-type", content_type.encode())])


class MetricsPort:
    """The app behind two sockets: on ``port`` only ``/metrics``, elsewhere the rest."""

    def __init__(self, app: object, port: int) -> None:
        self.app = app
        self.port = port
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope.get("server") or (None, None))[1] == self.port:
            if scope["path"].rstrip("/") != PATH:
                await respond_error(send, ProxyError(
                    404, f"this port serves {PATH} only", code="unknown_url"))
                return
            scope[ON_METRICS_PORT] = True
        await self.app(scope, receive, send)  # type: ignore[operator]
