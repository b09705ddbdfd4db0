"""The access layer's refusals, in OpenAI's error shape with LiteLLM's types and wording
(clients and scripts written against LiteLLM recognise them)."""

from __future__ import annotations

from datetime import datetime

from gatewise.proxy.errors import ProxyError

__all__ = ["blocked", "db_unavailable", "expired", "model_denied", "unauthorized"]


def unauthorized() -> ProxyError:
    return ProxyError(401, "missing or invalid API key: send Authorization: Bearer <key> with "
                           "the proxy's master key or a virtual key", code="invalid_api_key")


def expired(expires: datetime, now: datetime) -> ProxyError:
    return ProxyError(401, f"Authentication Error - Expired Key. Key Expiry time "
                           f"{expires.isoformat()} and current time {now.isoformat()}",
                      type="expired_key", code="401")


def blocked(what: str) -> ProxyError:
    return ProxyError(401, f"Authentication Error, this {what} is blocked. Ask an admin to "
                           "unblock it (POST /key/unblock)", type="authentication_error",
                      code="401")


def model_denied(kind: str, name: str, allowed: list[str]) -> ProxyError:
    return ProxyError(401, f"{kind} not allowed to access model. This {kind} can only access "
                           f"models={allowed}. Tried to access {name[:100]}",
                      type=f"{kind}_model_access_denied", param="model", code="401")


def db_unavailable() -> ProxyError:
    return ProxyError(503, "the proxy's key database is unavailable and this key is not in its "
                           "cache; retry shortly (general_settings."
                           "allow_requests_on_db_unavailable lets unknown keys through)",
                      type="api_error", code="key_store_unavailable")
