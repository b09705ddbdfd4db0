"""Which model group to try next when one fails, without ever trying a group twice.

Three maps, each ``{group: [fallback groups...]}`` (given as a dict, or LiteLLM's list of
one-key dicts; ``"*"`` applies to groups without an entry of their own):

- ``context_window_fallbacks``: used for a :class:`ContextWindowExceededError`;
- ``content_policy_fallbacks``: used for a :class:`ContentPolicyViolationError`;
- ``fallbacks``: used for any other error, and for those two when their own map has
  nothing for the group.

A :class:`FallbackPlan` walks the chain breadth first: the failed group's fallbacks are
queued in the order given, after those already queued, and each group runs at most once
per call (so ``a -> b -> a`` stops at ``b``), up to ``max_fallbacks`` groups.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gatewise._exceptions import (
    APIError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
)

Chains = Mapping[str, tuple[str, ...]]
WILDCARD = "*"


def parse_chains(value: Any, setting: str) -> dict[str, tuple[str, ...]]:
    """``{"a": ["b"]}`` or ``[{"a": ["b"]}, ...]`` -> ``{"a": ("b",)}``, validated."""
    if value is None:
        return {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple) and all(isinstance(v, Mapping) for v in value):
        items = [pair for entry in value for pair in entry.items()]
    else:
        raise ValueError(f"{setting} must be a mapping or a list of one-key mappings, "
                         f"like [{{'small': ['large']}}]")
    chains: dict[str, tuple[str, ...]] = {}
    for group, given in items:
        targets = [given] if isinstance(given, str) else given
        if not isinstance(group, str) or not isinstance(targets, list | tuple) or not all(
                isinstance(t, str) for t in targets):
            raise ValueError(f"{setting}: {group!r} must map to a list of model names")
        chains[group] = chains.get(group, ()) + tuple(targets)
    return chains


def _lookup(chains: Chains, group: str) -> tuple[str, ...]:
    found = chains.get(group)
    return chains.get(WILDCARD, ()) if found is None else found


@dataclass(frozen=True, slots=True)
class FallbackConfig:
    fallbacks: Chains = field(default_factory=dict)
    context_window: Chains = field(default_factory=dict)
    content_policy: Chains = field(default_factory=dict)

    def groups(self) -> set[str]:
        """Every group named anywhere (to check each one exists)."""
        names: set[str] = set()
        for chains in (self.fallbacks, self.context_window, self.content_policy):
            for group, targets in chains.items():
                names.update(targets)
                if group != WILDCARD:
                    names.add(group)
        return names

    def targets(self) -> set[str]:
        """Every group named as a fallback."""
        return {target for chains in (self.fallbacks, self.context_window, self.content_policy)
                for targets in chains.values() for target in targets}

    def next_for(self, group: str, error: APIError) -> tuple[str, ...]:
        """The groups to try after ``group`` failed with ``error``."""
        if isinstance(error, ContextWindowExceededError):
            special = _lookup(self.context_window, group)
        elif isinstance(error, ContentPolicyViolationError):
            special = _lookup(self.content_policy, group)
        else:
            special = ()
        return special or _lookup(self.fallbacks, group)

    def resolved(self, aliases: Mapping[str, str]) -> FallbackConfig:
        """The chains with every alias (as a key or a target) replaced by its group: a call
        is routed by group, so that is the name its chains are looked up and compared by."""
        if not aliases:
            return self

        def resolve(chains: Chains) -> Chains:
            out: dict[str, tuple[str, ...]] = {}
            for group, targets in chains.items():
                key = aliases.get(group, group)
                out[key] = out.get(key, ()) + tuple(aliases.get(t, t) for t in targets)
            return out

        return FallbackConfig(resolve(self.fallbacks), resolve(self.context_window),
                              resolve(self.content_policy))

    def with_overrides(self, group: str, *, fallbacks: Any = None, context_window: Any = None,
                       content_policy: Any = None) -> FallbackConfig:
        """This config with a call's own chains (a list of names applies to ``group``)."""
        if fallbacks is None and context_window is None and content_policy is None:
            return self

        def merged(base: Chains, value: Any, setting: str) -> Chains:
            if value is None:
                return base
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                value = {group: list(value)}
            return {**base, **parse_chains(value, setting)}

        return FallbackConfig(merged(self.fallbacks, fallbacks, "fallbacks"),
                              merged(self.context_window, context_window,
                                     "context_window_fallbacks"),
                              merged(self.content_policy, content_policy,
                                     "content_policy_fallbacks"))


class FallbackPlan:
    """The groups one call may use: the requested one first, then fallbacks as needed."""

    def __init__(self, first: str, config: FallbackConfig, *, max_fallbacks: int) -> None:
        self._config = config
        self._queue: deque[str] = deque([first])
        self._seen = {first}
        self._left = max_fallbacks

    def next(self) -> str | None:
        return self._queue.popleft() if self._queue else None

    def has_more(self, group: str, error: APIError) -> bool:
        """Whether another group would be tried if ``group`` failed now with ``error``."""
        if self._queue:
            return True
        return self._left > 0 and any(name not in self._seen
                                      for name in self._config.next_for(group, error))

    def failed(self, group: str, error: APIError) -> None:
        """Queue what comes after ``group`` for this error."""
        for target in self._config.next_for(group, error):
            if target in self._seen or self._left <= 0:
                continue
            self._seen.add(target)
            self._queue.append(target)
            self._left -= 1
