"""Health: liveness and readiness for orchestrators, ``/health`` for people.

``/health`` lists the deployments and what is known about them without calling anyone;
``/health?probe=true`` makes one tiny real call to each (it costs money, so it needs the
master key when there is one).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.auth import require_key
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import from_api_error
from gatewise.proxy.state import AppState

_TRUE = ("1", "true", "yes")


async def liveliness(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await respond_json(send, {"status": "alive"})


async def readiness(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    usable = sum(1 for d in state.deployments if d.problem is None)
    await respond_json(send, {"status": "ready", "version": state.version,
                              "deployments": len(state.deployments),
                              "usable_deployments": usable})


def _describe(deployment: Deployment) -> dict[str, Any]:
    entry: dict[str, Any] = {"model_name": deployment.model_name, "model": deployment.model,
                             "id": deployment.id, "mode": deployment.mode}
    if deployment.config.api_base:
        entry["api_base"] = deployment.config.api_base
    if deployment.is_mock:
        entry["mock"] = True
    return entry


async def _probe(state: AppState, deployment: Deployment) -> str | None:
    try:
        if deployment.mode == "embedding":
            await state.client.embedding_dict(deployment.model, "ping",
                                              **deployment.call_kwargs({}))
        else:
            await state.client.completion_dict(deployment.model,
                                               [{"role": "user", "content": "ping"}],
                                               **deployment.call_kwargs({"max_tokens": 1}))
    except APIError as exc:
        return from_api_error(exc, env_hint=deployment.key_env).message
    return None


async def health(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    probe = query.get("probe", [""])[-1].lower() in _TRUE
    if probe:
        require_key(state, scope)
    usable = [d for d in state.deployments if d.problem is None]
    errors: dict[int, str | None] = {id(d): d.problem for d in state.deployments}
    if probe:
        results = await asyncio.gather(*(_probe(state, d) for d in usable))
        errors.update({id(d): r for d, r in zip(usable, results, strict=True)})
    healthy, unhealthy = [], []
    for deployment in state.deployments:
        entry = _describe(deployment)
        error = errors[id(deployment)]
        if error is None:
            entry["status"] = "healthy" if probe else "configured"
            healthy.append(entry)
        else:
            entry["status"] = "unavailable" if deployment.problem else "unhealthy"
            entry["error"] = error
            unhealthy.append(entry)
    await respond_json(send, {"probed": probe, "healthy_count": len(healthy),
                              "unhealthy_count": len(unhealthy),
                              "healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy})
