"""The operator's views: who may see the proxy in detail (``/health``'s deployments,
addresses and traffic) and run its probes (real calls, which cost money).

Anyone, when the proxy runs without a master key; else the master key or a key whose user
is a ``proxy_admin``, resolved by the access layer as on every route (``access/control.py``
finds the presented key: ``Authorization: Bearer``, ``x-api-key`` or ``api-key``).
"""

from __future__ import annotations

from gatewise.proxy._asgi import Scope
from gatewise.proxy.access.errors import unauthorized
from gatewise.proxy.access.identity import Identity
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState

__all__ = ["may_see_details", "require_admin", "unauthorized"]


async def _caller(state: AppState, scope: Scope) -> Identity | None:
    access = state.access
    try:
        identity = access.identify(scope)
        if identity is None:
            identity = await access.load(scope)
    except ProxyError:
        return None
    return identity


async def may_see_details(state: AppState, scope: Scope) -> bool:
    """Whether the caller may see the operator's view."""
    identity = await _caller(state, scope)
    return identity is not None and identity.is_admin


async def require_admin(state: AppState, scope: Scope) -> None:
    """Raise a 401 unless the caller may act as the operator (``/health?probe=true``)."""
    if not await may_see_details(state, scope):
        raise unauthorized()
