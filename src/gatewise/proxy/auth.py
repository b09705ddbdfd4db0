"""Who may call: the key a request presents, and what that key may do.

Two steps, each in one place, so virtual keys plug in later without touching the routes:
:func:`presented_key` finds the key in the request (``Authorization: Bearer <key>``, or,
as Anthropic- and Azure-style clients send it, ``x-api-key: <key>`` / ``api-key: <key>``);
:func:`is_master` checks it.  :func:`require_key` guards the model routes,
:func:`may_see_details` / :func:`require_admin` the operator's views (``/health`` in
detail, probes): today both mean "the master key", later an admin role answers there.

A missing header, another scheme and a wrong key all get the same 401, after the same work
(the candidate's digest is compared with the key's either way), on every route that needs
the key.
"""

from __future__ import annotations

from gatewise.proxy._asgi import Scope
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState

# Headers that carry the key as it is, without a scheme (Anthropic's, Azure's).
_PLAIN_KEY_HEADERS = frozenset({b"x-api-key", b"api-key"})


def unauthorized() -> ProxyError:
    return ProxyError(401, "missing or invalid API key: send Authorization: Bearer <key> (or "
                           "x-api-key: <key>) with the proxy's master key",
                      code="invalid_api_key")


def presented_key(scope: Scope) -> bytes:
    """The key the request presents (``b""`` for none): a bearer token wins over the
    scheme-less headers; ``Authorization`` with another scheme presents nothing."""
    found = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer":
                return token.strip()  # type: ignore[no-any-return]
        elif not found and name in _PLAIN_KEY_HEADERS:
            found = value.strip()
    return found


def is_master(state: AppState, key: bytes) -> bool:
    """Whether ``key`` is the master key (compared in constant time: see ``Secret``)."""
    master = state.master_key
    return master is None or master.matches(key)


def require_key(state: AppState, scope: Scope) -> None:
    """Raise a 401 in OpenAI's shape unless the request carries a key that may call."""
    if state.master_key is not None and not is_master(state, presented_key(scope)):
        raise unauthorized()


def may_see_details(state: AppState, scope: Scope) -> bool:
    """Whether the caller may see the operator's view (deployments, addresses, traffic):
    anyone when the proxy has no master key, else only a caller presenting it."""
    return state.master_key is None or is_master(state, presented_key(scope))


def require_admin(state: AppState, scope: Scope) -> None:
    """Raise a 401 unless the caller may act as the operator (``/health?probe=true``)."""
    if not may_see_details(state, scope):
        raise unauthorized()
