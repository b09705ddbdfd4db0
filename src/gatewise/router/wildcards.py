"""Wildcard model groups, as LiteLLM has them: one entry serving every model of a provider.

::

    {"model_name": "*",         "params": {"model": "mistral/*", ...}}
    {"model_name": "mistral/*", "params": {"model": "mistral/*", ...}}

A ``model_name`` with one ``*`` is a pattern: a call whose model no group is named after
(an exact name always wins) and that the pattern matches goes to its group, and the part
the ``*`` stood for replaces the ``*`` of each deployment's ``model``.  Under ``"*"`` a
call may name ``mistral-small-latest`` or ``mistral/mistral-small-latest``: a part that
already carries the deployment's provider prefix is not given it twice.  The most specific
pattern (the longest text around its ``*``) is tried first.  Pure functions: the router
matches calls with them, the proxy lists and checks the names a pattern serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

STAR = "*"


class Pattern(NamedTuple):
    """A pattern group: the text before and after its ``*``."""

    group: str
    prefix: str
    suffix: str

    def part(self, name: str) -> str | None:
        """What the ``*`` stands for in ``name``, or None when the pattern does not match."""
        if (len(name) > len(self.prefix) + len(self.suffix) and name.startswith(self.prefix)
                and name.endswith(self.suffix)):
            return name[len(self.prefix):len(name) - len(self.suffix)]
        return None

    def name_for(self, part: str) -> str:
        return f"{self.prefix}{part}{self.suffix}"


def is_pattern(name: str) -> bool:
    return name.count(STAR) == 1


def patterns(names: Iterable[str]) -> tuple[Pattern, ...]:
    """The pattern groups among ``names``, the most specific first (then as given)."""
    found = [Pattern(name, *name.split(STAR)) for name in names if is_pattern(name)]
    return tuple(sorted(found, key=lambda p: -(len(p.prefix) + len(p.suffix))))


def match(candidates: tuple[Pattern, ...], name: str) -> tuple[str, str] | None:
    """``(group, part)`` of the first pattern matching ``name``, or None."""
    for pattern in candidates:
        part = pattern.part(name)
        if part is not None:
            return pattern.group, part
    return None


def concrete_model(model: str, part: str) -> str:
    """A deployment's ``model`` with its ``*`` standing for ``part``; a part that already
    starts with the model's provider prefix (``mistral/...`` for ``mistral/*``) keeps only
    one of it.  A model without a ``*`` is itself."""
    prefix, star, suffix = model.partition(STAR)
    if not star:
        return model
    provider = prefix[:prefix.find("/") + 1]
    if provider and part.startswith(provider) and prefix == provider:
        part = part[len(provider):]
    return f"{prefix}{part}{suffix}"
