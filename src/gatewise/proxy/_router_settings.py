"""``router_settings``: checked here, so a mistake is a config error naming its YAML path.

The keys are LiteLLM's (``routing_strategy``, ``num_retries``, ``allowed_fails``,
``cooldown_time``, ``timeout``, ``fallbacks``, ``context_window_fallbacks``,
``model_group_alias``...) plus gatewise's own (``max_fallbacks``, ``retry_backoff``,
``max_retry_wait``, ``max_cooldown_time``, ``latency_exploration``, and ``seed`` for
reproducible choices).  The
result is the ``Router``'s keyword arguments; the router checks them once more when built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatewise.proxy._readers import Reader

#: The settings that hold fallback chains.
CHAINS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
_COUNTS = ("num_retries", "allowed_fails", "max_fallbacks", "seed")
_SECONDS = ("timeout", "stream_timeout", "max_retry_wait", "max_cooldown_time")
_NUMBERS = ("cooldown_time", "retry_backoff", "latency_exploration")
KNOWN = frozenset({"routing_strategy", "model_group_alias", *CHAINS, *_COUNTS, *_SECONDS,
                   *_NUMBERS})


def router_settings(r: Reader, value: Any, names: set[str]) -> dict[str, Any]:
    """The checked settings; ``names`` are the config's model names (fallbacks and aliases
    must point at one of them)."""
    section = r.mapping(r.resolve(value or {}, "router_settings"), "router_settings") or {}
    r.unknown_keys(section, KNOWN, "router_settings")
    out: dict[str, Any] = {}
    readers: list[tuple[tuple[str, ...], Callable[[Any, str], Any]]] = [
        (_COUNTS, r.count), (_SECONDS, r.seconds), (_NUMBERS, r.number)]
    for keys, read in readers:
        for key in keys:
            if section.get(key) is not None:
                out[key] = read(section[key], f"router_settings.{key}")
    strategy = section.get("routing_strategy")
    if strategy is not None:
        out["routing_strategy"] = _strategy(r, strategy)
    aliases = _aliases(r, section.get("model_group_alias"), names)
    if aliases:
        out["model_group_alias"] = aliases
    known = names | set(aliases)
    for key in CHAINS:
        if section.get(key) is not None:
            out[key] = _chains(r, section[key], f"router_settings.{key}", known)
    return {k: v for k, v in out.items() if v is not None}


def _strategy(r: Reader, value: Any) -> str | None:
    from gatewise.router.strategies import strategy_named

    text = r.string(value, "router_settings.routing_strategy")
    if text is None:
        return None
    try:
        strategy_named(text)
    except ValueError as exc:
        r.error("router_settings.routing_strategy", str(exc))
        return None
    return text


def _aliases(r: Reader, value: Any, names: set[str]) -> dict[str, dict[str, Any]]:
    """``{alias: name}`` or ``{alias: {model: name, hidden: bool}}`` -> the second form."""
    if value is None:
        return {}
    section = r.mapping(value, "router_settings.model_group_alias") or {}
    out: dict[str, dict[str, Any]] = {}
    for alias, given in section.items():
        path = f"router_settings.model_group_alias.{alias}"
        hidden: Any = False
        target = given
        if isinstance(given, dict):
            hidden = r.boolean(given.get("hidden", False), f"{path}.hidden")
            target = given.get("model")
        if not isinstance(target, str) or target not in names:
            r.error(path, f"must name a model_name of the model_list "
                          f"({', '.join(sorted(names))}), got {target!r}")
        elif alias in names:
            r.error(path, "is already a model_name: an alias would hide it")
        else:
            out[alias] = {"model": target, "hidden": bool(hidden)}
    return out


def _chains(r: Reader, value: Any, path: str, names: set[str]) -> dict[str, list[str]] | None:
    """LiteLLM's ``[{group: [fallback, ...]}, ...]`` (or one mapping) -> one mapping."""
    from gatewise.router.fallbacks import WILDCARD, parse_chains

    try:
        chains = parse_chains(value, path)
    except ValueError as exc:
        r.error(path, str(exc).removeprefix(f"{path}: ").removeprefix(f"{path} "))
        return None
    named = {n for group, targets in chains.items()
             for n in (targets if group == WILDCARD else (group, *targets))}
    unknown = sorted(named - names)
    if unknown:
        r.error(path, f"unknown model_name(s): {', '.join(unknown)} (the model_list has "
                      f"{', '.join(sorted(names))})")
        return None
    return {group: list(targets) for group, targets in chains.items()}
