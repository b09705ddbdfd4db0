"""Virtual keys: made here, stored only as their SHA-256 digest, recognised by their name.

A generated key is ``sk-`` and 32 random URL-safe characters (192 bits).  Its ``token`` --
the hex digest -- is its id everywhere (the database's primary key, LiteLLM's ``token``
field, the ledger's ``api_key``); the plain key is shown once, in the answer that creates
it.  ``key_name`` (``sk-...abcd``) lets a person tell keys apart in lists without revealing
them.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["KEY_PREFIX", "digest", "key_name", "new_key"]

KEY_PREFIX = "sk-"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def digest(key: str | bytes) -> str:
    """The key's token: SHA-256, hex."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()


def key_name(key: str) -> str:
    return f"{key[:3]}...{key[-4:]}" if len(key) > 10 else "sk-..."
