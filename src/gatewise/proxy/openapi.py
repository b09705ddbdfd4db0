"""The proxy's own OpenAPI document, served at ``/openapi.json``.

It describes what the proxy accepts (OpenAI's shapes, loosely: unknown fields are allowed
and passed to the SDK core, which refuses what the provider cannot honour) and what it
answers, errors included, so tools like schemathesis can exercise every route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gatewise import __version__
from gatewise.proxy._openapi_routes import management_operations, model_operations

JSON = dict[str, Any]

_ERROR: JSON = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string"},
            "param": {"type": ["string", "null"]},
            "code": {"type": ["string", "null"]},
        },
    }},
}

_CONTENT_PART: JSON = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["text", "image_url"]},
        "text": {"type": "string"},
        "image_url": {"oneOf": [{"type": "string"}, {
            "type": "object", "required": ["url"],
            "properties": {"url": {"type": "string"},
                           "detail": {"type": "string", "enum": ["auto", "low", "high"]}}}]},
    },
}

_MESSAGE: JSON = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string",
                 "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"oneOf": [{"type": "string"}, {"type": "null"},
                              {"type": "array", "items": _CONTENT_PART}]},
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
        "tool_calls": {"type": "array", "items": {
            "type": "object", "required": ["id", "type", "function"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": ["function"]},
                "function": {"type": "object", "required": ["name", "arguments"],
                             "properties": {"name": {"type": "string"},
                                            "arguments": {"type": "string"}}},
            }}},
    },
}


def _chat_request(models: Sequence[str]) -> JSON:
    return {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "enum": list(models)} if models else {"type": "string"},
            "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
            "stream": {"type": "boolean"},
            "stream_options": {"type": "object",
                               "properties": {"include_usage": {"type": "boolean"}}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "max_tokens": {"type": "integer", "minimum": 0},
            "max_completion_tokens": {"type": "integer", "minimum": 0},
            "n": {"type": "integer", "minimum": 1},
            "seed": {"type": "integer"},
            "stop": {"oneOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}}]},
            "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "response_format": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]}}},
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"oneOf": [{"type": "string",
                                       "enum": ["auto", "none", "required"]},
                                      {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "reasoning_effort": {"type": "string",
                                 "enum": ["none", "minimal", "low", "medium", "high"]},
            "user": {"type": "string"},
            "metadata": {"type": "object"},
        },
    }


def _embedding_request(models: Sequence[str]) -> JSON:
    return {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "enum": list(models)} if models else {"type": "string"},
            "input": {"oneOf": [{"type": "string"},
                                {"type": "array", "minItems": 1, "items": {"type": "string"}}]},
            "dimensions": {"type": "integer", "minimum": 1},
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "user": {"type": "string"},
        },
    }


def _answers(ok: JSON, *statuses: int) -> JSON:
    errors = {str(s): {"description": "an OpenAI-shaped error",
                       "content": {"application/json": {"schema": _ERROR}}}
              for s in statuses}
    return {"200": ok, **errors}


def _json_ok(description: str) -> JSON:
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object"}}}}


def openapi_document(models: Mapping[str, Sequence[str]], *, secured: bool) -> JSON:
    """The document for a proxy serving these model names, by mode (``chat``,
    ``embedding``, ``fim``, ``moderation``, ``classification``, ``ocr``,
    ``audio_transcription``)."""
    chat_models, embedding_models = models.get("chat", ()), models.get("embedding", ())
    security: list[JSON] = [{"bearer": []}] if secured else []
    model_errors = (400, 401, 404, 413, 422, 429, 500, 502, 503, 504)
    chat_ok = {"description": "a chat completion, or a text/event-stream of chunks",
               "content": {"application/json": {"schema": {"type": "object"}},
                           "text/event-stream": {"schema": {"type": "string"}}}}
    paths: JSON = {
        "/v1/chat/completions": {"post": {
            "operationId": "createChatCompletion", "security": security,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _chat_request(chat_models)}}},
            "responses": _answers(chat_ok, *model_errors)}},
        "/v1/embeddings": {"post": {
            "operationId": "createEmbedding", "security": security,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _embedding_request(embedding_models)}}},
            "responses": _answers(_json_ok("embeddings"), *model_errors)}},
        "/v1/models": {"get": {
            "operationId": "listModels", "security": security,
            "responses": _answers(_json_ok("the model names served"), 401)}},
        "/v1/models/{model}": {"get": {
            "operationId": "retrieveModel", "security": security,
            "parameters": [{"name": "model", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": _answers(_json_ok("one model"), 401, 404)}},
    }
    paths.update(model_operations(models, security, _answers, _json_ok))
    paths.update(management_operations(security, _answers, _json_ok))
    for path, what in (("/health/liveliness", "the process is up"),
                       ("/health/readiness", "the proxy is ready to serve")):
        paths[path] = {"get": {"responses": {"200": _json_ok(what)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "gatewise proxy", "version": __version__,
                 "description": "An OpenAI-compatible API in front of Mistral AI."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
