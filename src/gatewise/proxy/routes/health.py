"""Health: liveness and readiness for orchestrators, ``/health`` for people.

``/health/liveness`` says the process answers; ``/health/readiness`` whether any deployment
can serve (200 ``ready``, else 503 ``not_ready``).  Both are open to anyone.

``/health`` lists the deployments and the router's state of each (``healthy``,
``cooling_down`` with ``cooldown_until`` as a Unix time, ``at_limit``; in flight, recent
latency and time to first token) without calling anyone; ``/health?probe=true`` makes one
tiny real call to each (it costs money).  That view tells internal addresses and traffic, so
when the proxy has a master key only a caller presenting it gets it
(``auth.may_see_details``); anyone else gets the readiness answer.
A caller who may see it also sees the shared state (``shared_state``: Redis connected, its
latency, whether requests run on local state meanwhile, the failure mode; or each
worker's share of the limits without Redis).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.auth import may_see_details, require_admin
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import from_api_error
from gatewise.proxy.state import AppState

_TRUE = ("1", "true", "yes")
_UNHEALTHY = frozenset({"unavailable", "unhealthy", "cooling_down"})


async def liveliness(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await respond_json(send, {"status": "alive"})


async def readiness(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """200 ``ready`` when at least one deployment can serve, else 503 ``not_ready``: an
    orchestrator should send no traffic to a proxy that can only answer errors."""
    usable = sum(1 for d in state.deployments if d.problem is None)
    await respond_json(send, {"status": "ready" if usable else "not_ready",
                              "version": state.version,
                              "deployments": len(state.deployments),
                              "usable_deployments": usable}, 200 if usable else 503)


def _describe(deployment: Deployment) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": deployment.id, "model_name": deployment.model_name,
                             "model": deployment.model, "mode": deployment.mode,
                             "api_base": deployment.config.api_base}
    if deployment.is_mock:
        entry["mock"] = True
    return entry


# The smallest real inputs: a 1x1 PNG to read, a tenth of a second of silence to transcribe.
_PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADElEQVR4nGNg"
          "YGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC")


def _silence() -> bytes:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def _probe_model(state: AppState, deployment: Deployment) -> str:
    """The model a probe calls: the entry's, or for a wildcard entry (``mistral/*``) one of
    the concrete models it serves."""
    if deployment.wildcard:
        for wild in state.wildcards.values():
            if wild.group == deployment.model_name:
                return wild.info.key
    return deployment.model


async def _probe(state: AppState, deployment: Deployment) -> str | None:
    """One tiny real call straight to ``deployment`` (not routed, no retries), of the kind
    its mode serves."""
    params = {**deployment.call_params(), "num_retries": 0}
    timeout = deployment.config.timeout or state.router.timeout
    if timeout is not None:
        params["timeout"] = timeout
    params.pop("model")
    model = _probe_model(state, deployment)
    client = state.client
    try:
        match deployment.mode:
            case "embedding":
                await client.embedding_dict(model, "ping", **params)
            case "moderation":
                await client.moderation_dict(model, "ping", **params)
            case "ocr":
                await client.ocr_dict(model, {"type": "image_url", "image_url": _PIXEL},
                                      **params)
            case "audio_transcription":
                await client.transcription_dict(model, ("ping.wav", _silence()), **params)
            case "completion":
                await client.text_completion_dict(model, "ping", **{**params, "max_tokens": 1})
            case _:
                await client.completion_dict(model, [{"role": "user", "content": "ping"}],
                                             **{**params, "max_tokens": 1})
    except APIError as exc:
        return from_api_error(exc, env_hint=deployment.key_env).message
    return None


async def health(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """Each deployment with the router's view of it (healthy, cooling down until when, at
    its rpm/tpm limit; in flight, recent latency and time to first token), and, with
    ``?probe=true``, the outcome of one real call; for a caller without the master key
    (when there is one), only the readiness answer."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    probe = query.get("probe", [""])[-1].lower() in _TRUE
    if probe:
        await require_admin(state, scope)
    elif not await may_see_details(state, scope):
        await readiness(state, scope, receive, send)  # what anyone may know
        return
    usable = [d for d in state.deployments if d.problem is None]
    errors: dict[int, str | None] = {id(d): d.problem for d in state.deployments}
    if probe:
        results = await asyncio.gather(*(_probe(state, d) for d in usable))
        errors.update({id(d): r for d, r in zip(usable, results, strict=True)})
    routed = {h.id: h for h in await state.router.ahealth()} if usable else {}
    now = time.time()
    healthy: list[dict[str, Any]] = []
    unhealthy: list[dict[str, Any]] = []
    for deployment in state.deployments:
        entry = _describe(deployment)
        seen = routed.get(deployment.id)
        if seen is not None:
            entry.update(seen.to_dict())
            if seen.cooldown_remaining is not None:
                entry["cooldown_until"] = round(now + seen.cooldown_remaining, 3)
        error = errors[id(deployment)]
        if error is not None:
            entry["status"] = "unavailable" if deployment.problem else "unhealthy"
            entry["error"] = error
        (unhealthy if entry["status"] in _UNHEALTHY else healthy).append(entry)
    report: dict[str, Any] = {
        "probed": probe,
        "routing_strategy": state.router.routing_strategy if usable else None,
        "healthy_count": len(healthy), "unhealthy_count": len(unhealthy),
        "healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy}
    report["shared_state"] = await _shared_state(state)  # (only callers who may see it)
    await respond_json(send, report)


async def _shared_state(state: AppState) -> dict[str, Any]:
    if state.shared is not None:
        return await state.shared.health()
    return {"backend": "memory", "workers": state.workers, "share": state.share}
