"""The management API's route table (LiteLLM's paths; ``/end_user/*`` is LiteLLM's other
name for ``/customer/*``).

Its handlers load on their first call: their request bodies are pydantic models whose
making costs start-up a tenth of a second, which a proxy nobody manages keys on (or
that has not been asked yet) need not pay.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.state import AppState

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]


def _lazy(module: str, name: str) -> Handler:
    """``gatewise.proxy.routes.<module>.<name>``, imported when first called."""
    found: list[Handler] = []

    async def handler(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
        if not found:
            found.append(getattr(importlib.import_module(f"gatewise.proxy.routes.{module}"),
                                 name))
        await found[0](state, scope, receive, send)

    handler.__qualname__ = handler.__name__ = name
    return handler


_CUSTOMERS: dict[str, dict[str, Handler]] = {
    "new": {"POST": _lazy("customers", "new_customer")},
    "info": {"GET": _lazy("customers", "customer_info")},
    "update": {"POST": _lazy("customers", "update_customer")},
    "delete": {"POST": _lazy("customers", "delete_customers")},
    "list": {"GET": _lazy("customers", "list_customers")},
    "block": {"POST": _lazy("customers", "block_customers")},
    "unblock": {"POST": _lazy("customers", "unblock_customers")},
}

MANAGEMENT_ROUTES: dict[str, dict[str, Handler]] = {
    "/key/generate": {"POST": _lazy("keys", "generate_key")},
    "/key/info": {"GET": _lazy("keys", "key_info")},
    "/key/update": {"POST": _lazy("keys", "update_key")},
    "/key/regenerate": {"POST": _lazy("keys", "regenerate_key")},
    "/key/block": {"POST": _lazy("keys", "block_key")},
    "/key/unblock": {"POST": _lazy("keys", "unblock_key")},
    "/key/delete": {"POST": _lazy("keys", "delete_keys")},
    "/key/list": {"GET": _lazy("keys", "list_keys")},
    "/team/new": {"POST": _lazy("teams", "new_team")},
    "/team/info": {"GET": _lazy("teams", "team_info")},
    "/team/update": {"POST": _lazy("teams", "update_team")},
    "/team/block": {"POST": _lazy("teams", "block_team")},
    "/team/unblock": {"POST": _lazy("teams", "unblock_team")},
    "/team/delete": {"POST": _lazy("teams", "delete_teams")},
    "/team/list": {"GET": _lazy("teams", "list_teams")},
    "/team/member_add": {"POST": _lazy("teams", "add_members")},
    "/team/member_delete": {"POST": _lazy("teams", "delete_member")},
    "/user/new": {"POST": _lazy("users", "new_user")},
    "/user/info": {"GET": _lazy("users", "user_info")},
    "/user/update": {"POST": _lazy("users", "update_user")},
    "/user/delete": {"POST": _lazy("users", "delete_users")},
    "/user/list": {"GET": _lazy("users", "list_users")},
    **{f"/{prefix}/{name}": methods for prefix in ("customer", "end_user")
       for name, methods in _CUSTOMERS.items()},
}
_KEY_PATH = _lazy("keys", "key_path_route")
KEY_PATH_ROUTE: tuple[str, dict[str, Handler]] = ("/key/", dict.fromkeys(
    ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), _KEY_PATH))
"""``/key/{key}/regenerate``: the key in the path (which no error repeats, hence every
method goes to the handler: it answers 404 and 405 itself)."""
