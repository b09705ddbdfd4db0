"""HTTP-level helpers of the fake: reading bodies as FastAPI does, writing JSON, hanging up."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
from aiohttp import web

from .behaviors import Status, default_body
from .validator import Error

JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"


def parse_json_body(raw: bytes) -> tuple[Any, list[Error]]:
    """``(body, [])``, or ``(None, FastAPI's 422 items)`` for an empty or malformed body."""
    if not raw:
        return None, [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    try:
        return json.loads(raw), []
    except json.JSONDecodeError as error:
        position, reason = error.pos, error.msg
    except UnicodeDecodeError as error:
        position, reason = error.start, error.reason
    item = {
        "type": "json_invalid",
        "loc": ["body", position],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": reason},
    }
    return None, [item]


def answer_headers() -> dict[str, str]:
    return {"mistral-correlation-id": str(uuid.uuid4())}


def json_response(status: int, body: Any, content_type: str = JSON) -> web.Response:
    headers = {"Content-Type": content_type, **answer_headers()}
    return web.Response(status=status, body=orjson.dumps(body), headers=headers)


def status_response(behavior: Status) -> web.Response:
    """A scripted ``Status``: its body (dict → JSON, str/bytes → as is) or the live default."""
    body = default_body(behavior.code) if behavior.body is None else behavior.body
    if isinstance(body, str | bytes):
        return web.Response(status=behavior.code, body=body, headers=behavior.headers)
    response = json_response(behavior.code, body)
    response.headers.update(behavior.headers or {})
    return response


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket mid-answer, as a crashed upstream or a dropped proxy would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()
