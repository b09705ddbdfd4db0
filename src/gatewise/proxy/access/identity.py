"""``Identity``: who is calling, as the access layer resolved it for one request.

The app resolves it before any handler runs (``scope["gatewise.identity"]``, see
:func:`identity_of`) for every route that needs a key: the master key, a virtual key with
the team and user it belongs to, or nobody at all when the proxy runs without a master key
(``open``).  Management routes ask :func:`require_admin`: the master key, or a key whose
user has the role ``proxy_admin``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from gatewise.proxy.access.entities import ADMIN_ROLES, Key, Team, User
from gatewise.proxy.errors import ProxyError

__all__ = ["IDENTITY", "Identity", "identity_of", "not_admin", "require_admin"]

IDENTITY = "gatewise.identity"
"""The ASGI scope key the resolved identity is kept under."""


@dataclass(frozen=True, slots=True)
class Identity:
    kind: str  # master / key / open
    key: Key | None = None
    team: Team | None = None
    user: User | None = None

    @property
    def token(self) -> str | None:
        """The virtual key's id (its digest), or None."""
        return self.key.token if self.key is not None else None

    @property
    def is_admin(self) -> bool:
        if self.kind in ("master", "open"):
            return True
        return self.user is not None and self.user.user_role in ADMIN_ROLES


MASTER = Identity("master")
OPEN = Identity("open")


def identity_of(scope: MutableMapping[str, Any]) -> Identity:
    identity = scope.get(IDENTITY)
    return identity if isinstance(identity, Identity) else OPEN


def not_admin() -> ProxyError:
    return ProxyError(403, "this route needs the proxy's master key or a key of a user with "
                           "the role proxy_admin", type="permission_error",
                      code="admin_only")


def require_admin(scope: MutableMapping[str, Any]) -> Identity:
    """The caller's identity, if it may manage keys, teams and users; else a 403."""
    identity = identity_of(scope)
    if not identity.is_admin:
        raise not_admin()
    return identity
