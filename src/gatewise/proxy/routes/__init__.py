"""The route table: path (``/v1`` already stripped) -> method -> handler.

A handler is ``async def handler(state, scope, receive, send) -> None``; it answers by
itself, or raises ``ProxyError`` for the app to answer in OpenAI's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.routes.audio import transcriptions
from gatewise.proxy.routes.chat import chat_completions
from gatewise.proxy.routes.completions import completions
from gatewise.proxy.routes.embeddings import embeddings
from gatewise.proxy.routes.health import health, liveliness, readiness
from gatewise.proxy.routes.management import KEY_PATH_ROUTE, MANAGEMENT_ROUTES
from gatewise.proxy.routes.metrics import metrics
from gatewise.proxy.routes.models import PREFIX as MODELS_PREFIX
from gatewise.proxy.routes.models import list_models, retrieve_model
from gatewise.proxy.routes.moderations import moderations
from gatewise.proxy.routes.native import (
    chat_classifications,
    chat_moderations,
    classifications,
    fim_completions,
)
from gatewise.proxy.routes.ocr import ocr
from gatewise.proxy.routes.passthrough import METHODS as PASS_THROUGH_METHODS
from gatewise.proxy.routes.passthrough import PREFIX as PASS_THROUGH_PREFIX
from gatewise.proxy.routes.passthrough import passthrough
from gatewise.proxy.routes.schema import openapi_json
from gatewise.proxy.routes.spend import global_spend_report, spend_logs
from gatewise.proxy.state import AppState

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]

ROUTES: dict[str, dict[str, Handler]] = {
    "/chat/completions": {"POST": chat_completions},
    "/embeddings": {"POST": embeddings},
    "/models": {"GET": list_models},
    "/health": {"GET": health},
    "/health/liveliness": {"GET": liveliness},
    "/health/liveness": {"GET": liveliness},
    "/health/readiness": {"GET": readiness},
    "/metrics": {"GET": metrics},
    "/openapi.json": {"GET": openapi_json},
    "/ocr": {"POST": ocr},
    "/audio/transcriptions": {"POST": transcriptions},
    **MANAGEMENT_ROUTES,
    "/spend/logs": {"GET": spend_logs},
    "/global/spend/report": {"GET": global_spend_report},
    "/completions": {"POST": completions},
    "/fim/completions": {"POST": fim_completions},
    "/moderations": {"POST": moderations},
    "/chat/moderations": {"POST": chat_moderations},
    "/classifications": {"POST": classifications},
    "/chat/classifications": {"POST": chat_classifications},
}
# The routes that call models: each request on them gets an exchange and one record
# (proxy/exchange.py), under this route name.
MODEL_ROUTES: dict[str, str] = {
    "/chat/completions": "chat", "/embeddings": "embeddings", "/completions": "completions",
    "/fim/completions": "fim", "/moderations": "moderations",
    "/chat/moderations": "chat_moderations", "/classifications": "classifications",
    "/chat/classifications": "chat_classifications", "/ocr": "ocr",
    "/audio/transcriptions": "transcription"}
# Handlers of prefix routes whose requests get an exchange and a record too, by route name.
RECORDED_HANDLERS: dict[Handler, str] = {passthrough: "passthrough"}
# Open even when a master key is set (/health?probe=true and /metrics check the key
# themselves when they need it).
PUBLIC = frozenset({"/health", "/health/liveliness", "/health/liveness", "/health/readiness",
                    "/metrics"})
PREFIX_ROUTES: tuple[tuple[str, dict[str, Handler]], ...] = (
    (MODELS_PREFIX, {"GET": retrieve_model}),
    (PASS_THROUGH_PREFIX, dict.fromkeys(PASS_THROUGH_METHODS, passthrough)),
    KEY_PATH_ROUTE,
)

__all__ = ["MODEL_ROUTES", "PREFIX_ROUTES", "PUBLIC", "RECORDED_HANDLERS", "ROUTES", "Handler"]
