"""The user routes, as LiteLLM's: ``/user/new`` (which makes the user's first key too,
unless ``auto_create_key`` is false), ``/user/info``, ``/user/update``, ``/user/delete``,
``/user/list``.  All need an admin."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.access.identity import require_admin
from gatewise.proxy.access.periods import parse_duration
from gatewise.proxy.access.secrets import digest, key_name, new_key
from gatewise.proxy.errors import bad_request
from gatewise.proxy.routes._answers import key_answer, team_answer, user_answer
from gatewise.proxy.routes._bodies import DeleteUsers, NewUser, UpdateUser
from gatewise.proxy.routes._fields import Body
from gatewise.proxy.routes._manage import (
    announce,
    body_of,
    check_models,
    created_by,
    database,
    managed,
    query_int,
    query_of,
)
from gatewise.proxy.state import AppState

MAX_PAGE_SIZE = 100
_LIST_PARAMS = ("page", "page_size", "role", "user_ids")
_LIST_UNSUPPORTED = ("sort_by", "sort_order", "user_email", "team", "organization_id",
                     "sso_user_ids")
_NEW_ONLY = ("user_id", "teams", "auto_create_key", "key_alias", "duration")


def user_values(state: AppState, body: Body, *exclude: str) -> dict[str, Any]:
    values = body.given(*exclude)
    if "models" in values:
        values["models"] = check_models(state, values["models"])
    if "user_role" in values and values["user_role"] is None:
        values["user_role"] = "internal_user"
    return values


@managed()
async def new_user(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import users

    body = await body_of(NewUser, state, scope, receive)
    values = {"user_role": "internal_user", **user_values(state, body, *_NEW_ONLY),
              "user_id": body.user_id or str(uuid.uuid4())}
    plain = key = None
    if body.auto_create_key:
        plain = new_key()
        expires = (parse_duration(body.duration).after(datetime.now(UTC))
                   if body.duration else None)
        key = users.NewKey(digest(plain), key_name(plain),
                           {"key_alias": body.key_alias, "expires": expires})
    elif body.key_alias is not None or body.duration is not None:
        raise bad_request("`key_alias` and `duration` are for the key /user/new makes: not "
                          "with auto_create_key false", param="auto_create_key",
                          code="invalid_field")
    written = await users.create_user(database(state), values, body.teams or (), key,
                                      created_by(require_admin(scope)))
    await announce(state, written.changes)
    user, made = written.value
    answer = user_answer(user)
    if made is not None:
        answer.update({"key": plain, "token": made.token, "key_name": made.key_name,
                       "key_alias": made.key_alias, "expires": made.expires})
    else:
        answer["key"] = None
    await respond_json(send, answer)


@managed()
async def user_info(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import users

    user_id = query_of(scope, ("user_id",)).get("user_id")
    if not user_id:
        raise bad_request("`user_id` is required: /user/info?user_id=<id>", param="user_id",
                          code="invalid_field")
    info = await users.get_user(database(state), user_id)
    await respond_json(send, {"user_id": user_id, "user_info": user_answer(info.user),
                              "keys": [key_answer(k) for k in info.keys],
                              "teams": [team_answer(t) for t in info.teams]})


@managed()
async def update_user(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """The user named by ``user_id``, or else by ``user_email`` (which then is not
    changed)."""
    from gatewise.db import users

    body = await body_of(UpdateUser, state, scope, receive)
    if body.user_id is None and body.user_email is None:
        raise bad_request("give the `user_id` (or the `user_email`) of the user to update",
                          param="user_id", code="invalid_field")
    exclude = ("user_id",) if body.user_id is not None else ("user_id", "user_email")
    written = await users.update_user(database(state), user_values(state, body, *exclude),
                                      user_id=body.user_id, user_email=body.user_email)
    await announce(state, written.changes)
    await respond_json(send, {"user_id": written.value.user_id,
                              "data": user_answer(written.value)})


@managed()
async def delete_users(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """Deletes the users with their keys, and takes them out of their teams."""
    from gatewise.db import users

    body = await body_of(DeleteUsers, state, scope, receive)
    written = await users.delete_users(database(state), body.user_ids)
    await announce(state, written.changes)
    await respond_json(send, {"deleted_users": written.value})


@managed()
async def list_users(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import users
    from gatewise.proxy.access.entities import USER_ROLES

    params = query_of(scope, _LIST_PARAMS, _LIST_UNSUPPORTED)
    page = query_int(params, "page", 1, 10**6)
    size = query_int(params, "page_size", 25, MAX_PAGE_SIZE)
    role = params.get("role") or None
    if role is not None and role not in USER_ROLES:
        raise bad_request(f"`role` must be one of {', '.join(USER_ROLES)}", param="role",
                          code="invalid_field")
    ids = params.get("user_ids")
    found, total = await users.list_users(
        database(state), page=page, size=size, role=role,
        user_ids=[u for u in ids.split(",") if u] if ids else None)
    await respond_json(send, {"users": [user_answer(u) for u in found], "total": total,
                              "page": page, "page_size": size,
                              "total_pages": math.ceil(total / size)})
