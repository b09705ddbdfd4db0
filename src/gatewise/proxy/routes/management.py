"""The management API's route table (LiteLLM's paths; ``/end_user/*`` is LiteLLM's other
name for ``/customer/*``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.routes import customers, keys, teams, users
from gatewise.proxy.state import AppState

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]

_CUSTOMERS: dict[str, dict[str, Handler]] = {
    "new": {"POST": customers.new_customer},
    "info": {"GET": customers.customer_info},
    "update": {"POST": customers.update_customer},
    "delete": {"POST": customers.delete_customers},
    "list": {"GET": customers.list_customers},
    "block": {"POST": customers.block_customers},
    "unblock": {"POST": customers.unblock_customers},
}

MANAGEMENT_ROUTES: dict[str, dict[str, Handler]] = {
    "/key/generate": {"POST": keys.generate_key},
    "/key/info": {"GET": keys.key_info},
    "/key/update": {"POST": keys.update_key},
    "/key/regenerate": {"POST": keys.regenerate_key},
    "/key/block": {"POST": keys.block_key},
    "/key/unblock": {"POST": keys.unblock_key},
    "/key/delete": {"POST": keys.delete_keys},
    "/key/list": {"GET": keys.list_keys},
    "/team/new": {"POST": teams.new_team},
    "/team/info": {"GET": teams.team_info},
    "/team/update": {"POST": teams.update_team},
    "/team/block": {"POST": teams.block_team},
    "/team/unblock": {"POST": teams.unblock_team},
    "/team/delete": {"POST": teams.delete_teams},
    "/team/list": {"GET": teams.list_teams},
    "/team/member_add": {"POST": teams.add_members},
    "/team/member_delete": {"POST": teams.delete_member},
    "/user/new": {"POST": users.new_user},
    "/user/info": {"GET": users.user_info},
    "/user/update": {"POST": users.update_user},
    "/user/delete": {"POST": users.delete_users},
    "/user/list": {"GET": users.list_users},
    **{f"/{prefix}/{name}": methods for prefix in ("customer", "end_user")
       for name, methods in _CUSTOMERS.items()},
}
