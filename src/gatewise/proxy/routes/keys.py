"""The key routes, as LiteLLM's: ``/key/generate``, ``/key/info``, ``/key/update``,
``/key/regenerate`` (and ``/key/{key}/regenerate``), ``/key/block``, ``/key/unblock``,
``/key/delete``, ``/key/list``.

The plain key is in the answers of ``generate`` and ``regenerate`` only; everywhere else a
key is its ``token`` (the digest).  Where a request names a key it may give the key or its
token.  A key may read its own ``/key/info``; everything else needs an admin.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.access.identity import identity_of, not_admin, require_admin
from gatewise.proxy.access.periods import parse_duration
from gatewise.proxy.access.secrets import digest, key_name, new_key
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.proxy.routes._answers import key_answer
from gatewise.proxy.routes._bodies import (
    DeleteKeys,
    GenerateKey,
    KeyRefBody,
    RegenerateKey,
    UpdateKey,
)
from gatewise.proxy.routes._fields import Body, parse_body
from gatewise.proxy.routes._manage import (
    announce,
    body_of,
    check_models,
    created_by,
    database,
    managed,
    optional_json_object,
    query_bool,
    query_int,
    query_of,
)
from gatewise.proxy.state import AppState

MAX_PAGE_SIZE = 100
KEY_PREFIX = "/key/"
_REGENERATE = "/regenerate"
_KEY_REF = "gatewise.key_ref"
_LIST_PARAMS = ("page", "size", "user_id", "team_id", "key_alias", "key_hash",
                "return_full_object")
_LIST_UNSUPPORTED = ("organization_id", "include_team_keys", "include_created_by_keys",
                     "sort_by", "sort_order", "expand", "status", "key_type")


def key_values(state: AppState, body: Body) -> dict[str, Any]:
    """The columns a generate/update/regenerate body sets: ``models`` checked against what
    the proxy serves, ``duration`` turned into ``expires`` (from now; null: never)."""
    values = body.given("key", "new_key", "duration")
    if "models" in values:
        values["models"] = check_models(state, values["models"])
    if "duration" in body.model_fields_set:
        duration = getattr(body, "duration", None)
        values["expires"] = (parse_duration(duration).after(datetime.now(UTC))
                             if duration else None)
    return values


def _chosen(state: AppState, chosen: str | None, field: str) -> str:
    """The caller's own key value, or a new one; never the master key."""
    if chosen is None:
        return new_key()
    master = state.master_key
    if master is not None and master.matches(chosen.encode()):
        raise bad_request(f"`{field}` must not be the proxy's master key", param=field,
                          code="invalid_field")
    return chosen


def _created(plain: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {"key": plain, **answer, "token_id": answer["token"]}


@managed()
async def generate_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import keys

    body = await body_of(GenerateKey, state, scope, receive)
    values = key_values(state, body)
    plain = _chosen(state, body.key, "key")
    written = await keys.create_key(database(state), digest(plain), key_name(plain), values,
                                    created_by(require_admin(scope)))
    await announce(state, written.changes)
    await respond_json(send, _created(plain, key_answer(written.value)))


@managed(admin=False)
async def key_info(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """``?key=`` (the key or its token); without it, the caller's own key."""
    from gatewise.db import keys

    ref = query_of(scope, ("key",)).get("key") or None
    identity = identity_of(scope)
    if not identity.is_admin:
        own = identity.token
        if own is None or (ref is not None and own not in (ref, digest(ref))):
            raise not_admin()
        ref = ref or own
    elif ref is None:
        raise bad_request("`key` is required: /key/info?key=<the key or its token>",
                          param="key", code="invalid_field")
    key = await keys.get_key(database(state), ref)
    await respond_json(send, {"key": ref, "info": key_answer(key)})


@managed()
async def update_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import keys

    body = await body_of(UpdateKey, state, scope, receive)
    written = await keys.update_key(database(state), body.key, key_values(state, body))
    await announce(state, written.changes)
    await respond_json(send, {"key": body.key, **key_answer(written.value)})


@managed()
async def regenerate_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """A new value for the key (``new_key``, else a random one): the old one stops working
    at once.  Fields given with it update the key as ``/key/update`` would."""
    await _regenerate(state, await body_of(RegenerateKey, state, scope, receive), send)


async def key_path_route(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """``/key/{key}/regenerate`` (LiteLLM's other form: the key, or its token, in the path;
    an optional body with ``/key/regenerate``'s fields).  Nothing else lives under
    ``/key/``; the path holds a key, so no answer repeats it."""
    path: str = scope["path"].removeprefix("/v1").rstrip("/")
    ref = path.removeprefix(KEY_PREFIX).removesuffix(_REGENERATE)
    if not path.endswith(_REGENERATE) or not ref:
        raise ProxyError(404, f"Unknown request URL: {scope['method']} {KEY_PREFIX}...: the "
                              "key routes are /key/generate, /key/info, /key/update, "
                              "/key/regenerate, /key/{key}/regenerate, /key/block, "
                              "/key/unblock, /key/delete, /key/list", code="not_found")
    if scope["method"] != "POST":
        raise ProxyError(405, f"{scope['method']} is not allowed on /key/{{key}}/regenerate; "
                              "use POST", code="method_not_allowed")
    scope["path"] = "/key/{key}/regenerate"  # what the handler's logs may show
    scope[_KEY_REF] = ref
    await _regenerate_at(state, scope, receive, send)


@managed()
async def _regenerate_at(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    ref: str = scope[_KEY_REF]
    body = await optional_json_object(state, scope, receive)
    given = body.get("key")
    if given is not None and given != ref:
        raise bad_request("the key to regenerate is named in the path: leave `key` out of "
                          "the body (or give the same one)", param="key",
                          code="invalid_field")
    await _regenerate(state, parse_body(RegenerateKey, {**body, "key": ref},
                                        "/key/{key}/regenerate"), send)


async def _regenerate(state: AppState, body: RegenerateKey, send: Send) -> None:
    from gatewise.db import keys

    values = key_values(state, body)
    plain = _chosen(state, body.new_key, "new_key")
    written = await keys.regenerate_key(database(state), body.key, digest(plain),
                                        key_name(plain), values)
    await announce(state, written.changes)
    await respond_json(send, _created(plain, key_answer(written.value)))


async def _set_blocked(state: AppState, scope: Scope, receive: Receive, send: Send,
                       blocked: bool) -> None:
    from gatewise.db import keys

    body = await body_of(KeyRefBody, state, scope, receive)
    written = await keys.update_key(database(state), body.key, {"blocked": blocked})
    await announce(state, written.changes)
    await respond_json(send, key_answer(written.value))


@managed()
async def block_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _set_blocked(state, scope, receive, send, True)


@managed()
async def unblock_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _set_blocked(state, scope, receive, send, False)


@managed()
async def delete_keys(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """``{"keys": [...]}`` (keys or tokens) or ``{"key_aliases": [...]}``: all of them are
    deleted, or none (a 404 names those that do not exist)."""
    from gatewise.db import keys

    body = await body_of(DeleteKeys, state, scope, receive)
    if not body.keys and not body.key_aliases:
        raise bad_request("give `keys` (the keys or their tokens) or `key_aliases` to delete",
                          param="keys", code="invalid_field")
    written = await keys.delete_keys(database(state), body.keys or (), body.key_aliases or ())
    await announce(state, written.changes)
    await respond_json(send, {"deleted_keys": [*(body.keys or ()), *(body.key_aliases or ())]})


@managed()
async def list_keys(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """LiteLLM's page of keys: their tokens, or with ``return_full_object=true`` the keys
    as ``/key/info`` shows them; filters ``user_id``, ``team_id``, ``key_alias``,
    ``key_hash`` (a token)."""
    from gatewise.db import keys

    params = query_of(scope, _LIST_PARAMS, _LIST_UNSUPPORTED)
    page = query_int(params, "page", 1, 10**6)
    size = query_int(params, "size", 10, MAX_PAGE_SIZE)
    full = query_bool(params, "return_full_object")
    found, total = await keys.list_keys(
        database(state), page=page, size=size, user_id=params.get("user_id"),
        team_id=params.get("team_id"), key_alias=params.get("key_alias"),
        token=params.get("key_hash"))
    await respond_json(send, {
        "keys": [key_answer(k) if full else k.token for k in found], "total_count": total,
        "current_page": page, "total_pages": math.ceil(total / size)})
