"""The master key, for the routes that need it whatever else the caller holds (the health
probe, which costs money): any of the headers a client may carry a key in
(``Authorization: Bearer``, ``x-api-key``, ``api-key``), compared in constant time.

Every other route asks the access layer (``proxy/access/control.py``), which knows virtual
keys too; both refuse with the same 401.
"""

from __future__ import annotations

from gatewise.proxy._asgi import Scope
from gatewise.proxy.access.control import presented_key
from gatewise.proxy.access.errors import unauthorized
from gatewise.proxy.state import AppState

__all__ = ["require_key", "unauthorized"]


def require_key(state: AppState, scope: Scope) -> None:
    """Raise a 401 in OpenAI's shape unless the request carries the master key."""
    key = state.master_key
    if key is None:
        return
    if not key.matches(presented_key(scope)):
        raise unauthorized()
