"""``general_settings.pass_through_endpoints``, in LiteLLM's form::

    general_settings:
      pass_through_endpoints:
        - path: /mistral
          target: https://api.mistral.ai
          headers:
            Authorization: "Bearer os.environ/MISTRAL_API_KEY"

The proxy passes through one path, ``/mistral`` (LiteLLM's route for Mistral): an entry
sets where it goes (``target``) and the headers added to every request (the key);
a header's value may hold ``os.environ/NAME`` whole or after a prefix (``Bearer ...``), as
LiteLLM allows.  Without an entry, ``/mistral`` goes to the first ``mistral/`` deployment
that has a key (its ``api_base`` less ``/v1``, and its key as a bearer token).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from gatewise.proxy._env import ENV_PREFIX
from gatewise.proxy._readers import Reader
from gatewise.proxy._secret import Secret

PASS_THROUGH_PATH = "/mistral"
_ENTRY_KEYS = ("path", "target", "headers")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class PassThroughConfig:
    """Where ``path`` (and everything under it) goes, and the headers added."""

    path: str
    target: str
    headers: tuple[tuple[str, Secret], ...] = field(default=(), repr=False)


def _header_value(r: Reader, value: str, path: str, environ: MutableMapping[str, str]
                  ) -> str | None:
    """``value`` with an ``os.environ/NAME`` after a prefix (``Bearer os.environ/KEY``)
    replaced by the variable (a whole-value reference was resolved before)."""
    prefix, found, name = value.partition(ENV_PREFIX)
    if not found:
        return value
    if not _NAME.fullmatch(name):
        r.error(path, f"{ENV_PREFIX} must be followed by a variable name, e.g. "
                      "Bearer os.environ/MISTRAL_API_KEY")
        return None
    resolved = environ.get(name)
    if not resolved:
        r.error(path, f"{name} is not set (referenced as {ENV_PREFIX}{name})")
        return None
    return prefix + resolved


def pass_through_endpoints(r: Reader, value: Any, environ: MutableMapping[str, str]
                           ) -> tuple[PassThroughConfig, ...]:
    """The checked entries; problems are reported through ``r``."""
    where = "general_settings.pass_through_endpoints"
    if not isinstance(value, list):
        r.error(where, "must be a list of {path, target, headers} entries")
        return ()
    entries: list[PassThroughConfig] = []
    for i, raw in enumerate(value):
        path = f"{where}[{i}]"
        entry = r.mapping(raw, path)
        if entry is None:
            continue
        r.unknown_keys(entry, _ENTRY_KEYS, path)
        route = r.string(entry.get("path"), f"{path}.path")
        target = r.url(entry.get("target"), f"{path}.target")
        if route is None:
            r.error(f"{path}.path", f"required: {PASS_THROUGH_PATH}")
        elif route.rstrip("/") != PASS_THROUGH_PATH:
            r.error(f"{path}.path", f"only {PASS_THROUGH_PATH} is passed through (Mistral's "
                                    f"own API), got {route!r}")
        if target is None and "target" not in entry:
            r.error(f"{path}.target", "required: the URL to forward to, e.g. "
                                      "https://api.mistral.ai")
        headers: list[tuple[str, Secret]] = []
        raw_headers = r.headers(entry.get("headers") or {}, f"{path}.headers") or {}
        for name, text in raw_headers.items():
            resolved = _header_value(r, text, f"{path}.headers.{name}", environ)
            if resolved is not None:
                headers.append((name, Secret(resolved)))
        if route is not None and target is not None:
            entries.append(PassThroughConfig(PASS_THROUGH_PATH, target, tuple(headers)))
    if len(entries) > 1:
        r.error(where, f"{PASS_THROUGH_PATH} is configured {len(entries)} times")
    return tuple(entries)
