"""What the management routes share: their guard (who may call, the database's failures
as answers), the query string, the body, the ``models`` check, and the change hook.

The database layer (``gatewise.db``) is imported by the handlers when first called, so a
proxy without a database never loads SQLAlchemy.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from gatewise.proxy._asgi import Receive, Scope, Send, read_body
from gatewise.proxy.access.identity import Identity, require_admin
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.proxy.routes._common import json_object, read_json_object
from gatewise.proxy.routes._fields import Body, parse_body
from gatewise.proxy.state import AppState

if TYPE_CHECKING:
    from gatewise.db.database import Database

__all__ = ["ALL_MODELS", "announce", "body_of", "check_models", "created_by", "database",
           "managed", "optional_json_object", "query_bool", "query_int", "query_of"]

logger = logging.getLogger("gatewise.proxy")
Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]
B = TypeVar("B", bound=Body)

ALL_MODELS = frozenset({"all-proxy-models", "all-team-models", "*"})
"""LiteLLM's values for "every model" (of the proxy; of the key's team): stored as no
restriction (the team's models bind its keys anyway)."""
_UNSUPPORTED_MODELS = frozenset({"no-default-models"})
_TRUE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_UNSET_QUERY = {"include_team_keys": "false", "include_created_by_keys": "false"}
"""LiteLLM's defaults of unsupported query flags: what gatewise does anyway."""


def managed(*, admin: bool = True) -> Callable[[Handler], Handler]:
    """Wrap a management handler: the caller must be an admin (unless ``admin=False``: the
    handler checks), and the database's failures become their answers (503, 409, 404,
    400), never a 500."""
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
            from gatewise.db.transactions import Conflict, DatabaseUnavailable, Invalid, NotFound

            if admin:
                require_admin(scope)
            try:
                await handler(state, scope, receive, send)
            except DatabaseUnavailable as exc:
                logger.warning("%s %s: the database is unavailable: %s", scope["method"],
                               scope["path"][:100], exc)
                raise ProxyError(503, f"the database is unavailable, retry later ({exc})",
                                 type="api_error", code="database_unavailable") from None
            except Conflict as exc:
                raise ProxyError(409, exc.message, param=exc.field, code="conflict") from None
            except NotFound as exc:
                raise ProxyError(404, exc.message, param=exc.field, code="not_found") from None
            except Invalid as exc:
                raise bad_request(exc.message, param=exc.field, code="invalid_reference"
                                  ) from None
        return guarded
    return wrap


def database(state: AppState) -> Database:
    """The proxy's database, or a 503 saying why there is none."""
    db = state.db
    if db is None:
        if state.database_url is not None:  # it could not be opened at startup
            raise ProxyError(503, "the database was unavailable when the proxy started (see "
                                  "its log); restart the proxy once it is back",
                             type="api_error", code="database_unavailable")
        raise ProxyError(503, "key management needs a database: set a master key (the "
                              "embedded SQLite file is then used) or "
                              "general_settings.database_url", type="api_error",
                         code="database_not_configured")
    return db


async def body_of(model: type[B], state: AppState, scope: Scope, receive: Receive) -> B:
    return parse_body(model, await read_json_object(state, scope, receive), scope["path"])


async def optional_json_object(state: AppState, scope: Scope, receive: Receive
                               ) -> dict[str, Any]:
    """The request's JSON object, or ``{}`` when it has no body at all."""
    raw = await read_body(scope, receive, state.max_body, state.deadlines,
                          state.client_timeout, state.config.request_body_timeout)
    if not raw.strip():
        return {}
    return json_object(raw)


def query_of(scope: Scope, accepted: Iterable[str], unsupported: Iterable[str] = ()
             ) -> dict[str, str]:
    """The query string's parameters (the last of a repeated one); an unknown one is a
    400 naming it, as an unknown body field is; an ``unsupported`` one (LiteLLM's) too,
    unless it asks for nothing (empty, or LiteLLM's default): then it is left out."""
    raw: bytes = scope.get("query_string", b"")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=False,
                          errors="strict")
    except UnicodeDecodeError:
        raise bad_request("the query string is not valid UTF-8") from None
    accepted = set(accepted)
    unsupported = set(unsupported)
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in unsupported:
            if not value or value.lower() == _UNSET_QUERY.get(name):
                continue
            raise bad_request(f"query parameter `{name}` is a LiteLLM parameter that gatewise "
                              "does not support", param=name, code="unsupported_field")
        if name not in accepted:
            raise bad_request(f"unknown query parameter `{name}`: {scope['path']} accepts "
                              f"{', '.join(sorted(accepted))}", param=name,
                              code="invalid_field")
        params[name] = value
    return params


def query_int(params: dict[str, str], name: str, default: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= high:
        raise bad_request(f"`{name}` must be a whole number from 1 to {high}", param=name,
                          code="invalid_field")
    return int(text)


def query_bool(params: dict[str, str], name: str) -> bool:
    value = _TRUE.get(params.get(name, "false").lower())
    if value is None:
        raise bad_request(f"`{name}` must be true or false", param=name, code="invalid_field")
    return value


def check_models(state: AppState, models: Sequence[str]) -> list[str]:
    """The models a key, team or user may use, as stored: each a name this proxy serves
    (a model name or an alias) or a pattern matching one (``mistral-*``); LiteLLM's "every
    model" values mean no restriction."""
    if any(m in ALL_MODELS for m in models):
        return []
    refused = [m for m in models if m in _UNSUPPORTED_MODELS]
    if refused:
        raise bad_request(f"models: {refused[0]!r} is a LiteLLM value gatewise does not "
                          "support", param="models", code="unsupported_field")
    unknown = [m for m in dict.fromkeys(models) if m not in state.served and not (
        "*" in m and any(fnmatch.fnmatchcase(name, m) for name in state.served))]
    if unknown:
        shown = ", ".join(repr(m[:100]) for m in unknown[:10])
        raise bad_request(f"models: {shown} {'is' if len(unknown) == 1 else 'are'} not served "
                          f"by this proxy; it serves {', '.join(sorted(state.served))} (or "
                          "'all-proxy-models')", param="models", code="invalid_field")
    return list(dict.fromkeys(models))


def created_by(identity: Identity) -> str | None:
    """Who made an identity, as stored: the admin's user id (None: the master key)."""
    return identity.user.user_id if identity.user is not None else None


async def announce(state: AppState, changes: Iterable[tuple[str, str]]) -> None:
    """Tell this process's access layer what changed, so it drops what it cached at once
    (other processes learn it from the change list).  The change is committed: a failing
    hook is logged, and does not turn the answer into an error."""
    for kind, ref in changes:
        try:
            await state.access.changed(kind, ref)
        except Exception:
            logger.exception("the access layer failed to take the change of %s %s", kind,
                             ref[:16])
