"""The master key: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

from gatewise.proxy._asgi import Scope, header
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState


def require_key(state: AppState, scope: Scope) -> None:
    """Raise a 401 in OpenAI's shape unless the request carries the master key."""
    key = state.master_key
    if key is None:
        return
    value = header(scope, b"authorization")
    if value is None:
        raise ProxyError(401, "this proxy needs an API key: send Authorization: Bearer <key> "
                              "with the proxy's master key", code="invalid_api_key")
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer" or not key.matches(token.strip()):
        raise ProxyError(401, "invalid API key for this proxy: send Authorization: Bearer "
                              "<key> with the proxy's master key", code="invalid_api_key")
