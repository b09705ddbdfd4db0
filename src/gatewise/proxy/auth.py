"""The master key: ``Authorization: Bearer <key>``, compared in constant time.

A missing header, another scheme and a wrong key all get the same 401, after the same
work (the candidate's digest is compared with the key's either way), on every route that
needs the key.
"""

from __future__ import annotations

from gatewise.proxy._asgi import Scope, header
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState


def unauthorized() -> ProxyError:
    return ProxyError(401, "missing or invalid API key: send Authorization: Bearer <key> with "
                           "the proxy's master key", code="invalid_api_key")


def require_key(state: AppState, scope: Scope) -> None:
    """Raise a 401 in OpenAI's shape unless the request carries the master key."""
    key = state.master_key
    if key is None:
        return
    scheme, _, token = (header(scope, b"authorization") or b"").partition(b" ")
    matches = key.matches(token.strip())
    if not matches or scheme.lower() != b"bearer":
        raise unauthorized()
