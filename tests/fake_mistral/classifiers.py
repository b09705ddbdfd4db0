"""Moderation and classification endpoints of the fake (mistral-api.md §10).

``POST /v1/moderations``, ``/v1/chat/moderations``, ``/v1/classifications`` and
``/v1/chat/classifications``: each request is validated against its official schema
(``ClassificationRequest``, ``ChatModerationRequest``, ``ChatClassificationRequest``;
every unknown field is a 422), the model must be a moderation model (else Mistral's
``Invalid model`` 400), and the answer is true to ``ModerationResponse`` /
``ClassificationResponse``.  Verdicts are deterministic: a text holding one of
:data:`TRIGGERS`' words is flagged in that category.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any, Protocol

from aiohttp import web

from .behaviors import Behavior, CutStream, StallStream
from .errors import invalid_model
from .models import MODELS
from .tokens import content_text
from .validator import Error, validate_body
from .wire import drop_connection, json_response

# The v2 model's categories (the spec's ModerationLLMV2CategoryThresholds).
CATEGORIES = ("sexual", "hate_and_discrimination", "violence_and_threats", "dangerous",
              "criminal", "selfharm", "health", "financial", "law", "pii", "jailbreaking")
TRIGGERS = {"violence_and_threats": ("kill", "attack"), "pii": ("passport", "@"),
            "selfharm": ("hurt myself",), "jailbreaking": ("ignore previous instructions",)}
CLASSIFIER_TARGET = "moderation"  # the one target the fake's classifiers answer for


class Exchange(Protocol):
    """What the server hands an endpoint (``server._Exchange``)."""

    request: web.Request
    body: Any
    errors: list[Error]
    behavior: Behavior | None


def verdict(text: str) -> dict[str, Any]:
    """A ``ModerationObject`` for ``text``: low scores fixed by the text, high ones for the
    categories a trigger word names."""
    lowered = text.lower()
    seed = hashlib.sha256(text.encode()).digest()
    scores = {}
    for i, category in enumerate(CATEGORIES):
        hit = any(word in lowered for word in TRIGGERS.get(category, ()))
        scores[category] = 0.9 + seed[i] / 2560 if hit else seed[i] / 25600
    return {"categories": {c: s > 0.5 for c, s in scores.items()}, "category_scores": scores}


def _conversation_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(content_text(m.get("content")) for m in messages)


async def _answer(exchange: Exchange, schema: str, results: Any) -> web.StreamResponse:
    behavior = exchange.behavior
    if isinstance(behavior, CutStream):
        return drop_connection(exchange.request)
    if isinstance(behavior, StallStream):
        await asyncio.sleep(behavior.seconds)
    body = {"id": uuid.uuid4().hex, "model": exchange.body["model"], "results": results}
    assert not validate_body(schema, body), "the fake's answer must be schema-true"
    return json_response(200, body)


def _refused(exchange: Exchange, schema: str) -> web.Response | None:
    """The 422 of a body its schema refuses, or the 400 of a model that cannot classify."""
    errors = exchange.errors or validate_body(schema, exchange.body)
    if errors:
        return json_response(422, {"detail": errors})
    model = exchange.body["model"]
    facts = MODELS.get(model)
    if facts is None or facts.mode != "moderation":
        return json_response(*invalid_model(model))
    return None


def _texts(given: str | list[str]) -> list[str]:
    return [given] if isinstance(given, str) else given


async def moderations(exchange: Exchange) -> web.StreamResponse:
    refused = _refused(exchange, "ClassificationRequest")
    if refused is not None:
        return refused
    results = [verdict(text) for text in _texts(exchange.body["input"])]
    return await _answer(exchange, "ModerationResponse", results)


async def chat_moderations(exchange: Exchange) -> web.StreamResponse:
    refused = _refused(exchange, "ChatModerationRequest")
    if refused is not None:
        return refused
    given = exchange.body["input"]
    conversations = given if given and isinstance(given[0], list) else [given]
    results = [verdict(_conversation_text(c)) for c in conversations]
    return await _answer(exchange, "ModerationResponse", results)


def _classified(text: str) -> dict[str, Any]:
    return {CLASSIFIER_TARGET: {"scores": verdict(text)["category_scores"]}}


async def classifications(exchange: Exchange) -> web.StreamResponse:
    refused = _refused(exchange, "ClassificationRequest")
    if refused is not None:
        return refused
    results = [_classified(text) for text in _texts(exchange.body["input"])]
    return await _answer(exchange, "ClassificationResponse", results)


async def chat_classifications(exchange: Exchange) -> web.StreamResponse:
    refused = _refused(exchange, "ChatClassificationRequest")
    if refused is not None:
        return refused
    given = exchange.body["input"]
    requests = given if isinstance(given, list) else [given]
    results = [_classified(_conversation_text(r["messages"])) for r in requests]
    return await _answer(exchange, "ClassificationResponse", results)


ENDPOINTS = {
    "/v1/moderations": moderations,
    "/v1/chat/moderations": chat_moderations,
    "/v1/classifications": classifications,
    "/v1/chat/classifications": chat_classifications,
}
