"""``router_settings.redis_*``: where the shared state lives, in LiteLLM's form.

``redis_host`` / ``redis_port`` / ``redis_password``, or ``redis_url`` (``redis://`` or
``rediss://``, with the password and database in it if wanted); when the config names no
Redis, the environment may: ``REDIS_URL``, or ``REDIS_HOST`` / ``REDIS_PORT``;
``REDIS_PASSWORD`` stands in for a password given nowhere else.  Plus gatewise's own
``redis_failure_mode`` (``open``, the default, or ``closed``) and ``redis_timeout`` (the
bounded wait of a request on Redis, 0.1 s by default).

A URL may hold the password: no error, warning or repr ever shows a URL as written (only
``redis://host:port/db``), nor the password.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from gatewise.proxy._readers import Reader
from gatewise.state.redis.settings import FAILURE_MODES, RedisSettings

__all__ = ["REDIS_KEYS", "redis_settings", "split_redis"]

REDIS_KEYS = frozenset({"redis_host", "redis_port", "redis_password", "redis_url",
                        "redis_failure_mode", "redis_timeout"})
_SECTION = "router_settings"
_EXAMPLE = "e.g. redis://localhost:6379/0, or rediss://:password@host:6380/0"


def split_redis(section: Any) -> tuple[Any, dict[str, Any]]:
    """``router_settings`` without its ``redis_*`` keys, and those keys."""
    if not isinstance(section, dict):
        return section, {}
    return ({k: v for k, v in section.items() if k not in REDIS_KEYS},
            {k: v for k, v in section.items() if k in REDIS_KEYS})


def redis_settings(r: Reader, section: Mapping[str, Any], environ: Mapping[str, str]
                   ) -> RedisSettings | None:
    """The checked settings; None when neither the config nor the environment names a
    Redis (then the proxy keeps its state in each process)."""
    given = {k: r.resolve(v, f"{_SECTION}.{k}") for k, v in section.items()}
    url, host = given.get("redis_url"), given.get("redis_host")
    url_path, host_path = f"{_SECTION}.redis_url", f"{_SECTION}.redis_host"
    if url is not None and (host is not None or given.get("redis_port") is not None):
        r.error(url_path, "give either redis_url or redis_host (and redis_port), not both")
        return None
    port: Any = given.get("redis_port")
    port_path = f"{_SECTION}.redis_port"
    if url is None and host is None:  # the config names no Redis: the environment may
        if environ.get("REDIS_URL"):
            url, url_path = environ["REDIS_URL"], "REDIS_URL"
        elif environ.get("REDIS_HOST"):
            host, host_path = environ["REDIS_HOST"], "REDIS_HOST"
    if url is None and port is None and environ.get("REDIS_PORT"):
        port, port_path = environ["REDIS_PORT"], "REDIS_PORT"
    if url is None and host is None:
        for key in sorted(given):
            r.warn(f"{_SECTION}.{key}", "ignored: no redis_host or redis_url is set")
        return None
    if importlib.util.find_spec("redis") is None or importlib.util.find_spec("hiredis") is None:
        r.error(url_path if url is not None else host_path,
                "shared state on Redis needs the redis extra: pip install 'gatewise[redis]'")
        return None
    fields: dict[str, Any] = {}
    password, source = given.get("redis_password"), f"{_SECTION}.redis_password"
    if url is not None:
        parsed = _url(r, url, url_path)
        if parsed is None:
            return None
        fields.update(parsed)
        if password is None and parsed.get("password") is not None:
            source = url_path
    else:
        text = r.string(host, host_path)
        if text is None:
            return None
        fields["host"] = text
        if port is not None:
            number = r.count(port, port_path, low=1)
            if number is None:
                return None
            if number > 65535:
                r.error(port_path, f"must be a port number (1-65535), got {port!r}")
                return None
            fields["port"] = number
    if password is not None:
        fields["password"] = r.string(password, source)
    elif fields.get("password") is None and environ.get("REDIS_PASSWORD"):
        fields["password"], source = environ["REDIS_PASSWORD"], "REDIS_PASSWORD"
    fields["password_source"] = source
    mode = given.get("redis_failure_mode")
    if mode is not None:
        if mode not in FAILURE_MODES:
            r.error(f"{_SECTION}.redis_failure_mode",
                    f"must be open or closed, got {mode!r}")
            return None
        fields["failure_mode"] = mode
    timeout = given.get("redis_timeout")
    if timeout is not None:
        seconds = r.seconds(timeout, f"{_SECTION}.redis_timeout")
        if seconds is None:
            return None
        fields["timeout"] = seconds
    return RedisSettings(**fields)


def _url(r: Reader, value: Any, path: str) -> dict[str, Any] | None:
    """``redis[s]://[[user]:password@]host[:port][/db]`` -> fields.  Errors never quote the
    URL (it may hold the password)."""
    if not isinstance(value, str) or not value.strip():
        r.error(path, f"must be a redis:// or rediss:// URL ({_EXAMPLE})")
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("redis", "rediss"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        r.error(path, f"must be a redis:// or rediss:// URL ({_EXAMPLE}); this one has "
                      f"{shown}")
        return None
    try:
        port = parts.port
    except ValueError:
        r.error(path, "has a port that is not a number from 1 to 65535")
        return None
    if not parts.hostname:
        r.error(path, f"has no host ({_EXAMPLE})")
        return None
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        r.error(path, "has a path that is not a database number (e.g. /0)")
        return None
    return {"host": parts.hostname, "port": port or 6379, "db": int(db_text),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "ssl": parts.scheme == "rediss"}
