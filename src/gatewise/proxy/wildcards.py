"""The names a proxy's wildcard entries serve, worked out once at startup.

An entry ``model_name: "*"`` (or ``"mistral/*"``) with ``model: mistral/*`` serves, as in
LiteLLM, every model of its provider: here every chat and embedding model the catalogue
knows for it, under the name the pattern gives it (``mistral-small-latest`` for ``"*"``,
``mistral/mistral-small-latest`` for ``"mistral/*"``; under ``"*"`` the prefixed form is
taken too, unlisted).  The router routes such a name by the same rules
(:mod:`gatewise.router.wildcards`); here the proxy learns which names to list, accept and
price, and with which catalogue record (the concrete model's, for its mode and cost).  A
name an explicit entry or an alias has is theirs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

from gatewise.catalogue import Catalogue, ModelInfo
from gatewise.proxy.deployments import Deployment
from gatewise.router.wildcards import Pattern, concrete_model, match, patterns

MODES = ("chat", "embedding")


class WildcardName(NamedTuple):
    """A name a wildcard group serves: the group, the concrete model's record, and whether
    ``/models`` lists it (the prefixed twin of a bare name is accepted, not listed)."""

    group: str
    info: ModelInfo
    listed: bool


def wildcard_names(groups: Mapping[str, list[Deployment]], catalogue: Catalogue,
                   taken: Collection[str]) -> dict[str, WildcardName]:
    """Every name the wildcard groups among ``groups`` serve, but those in ``taken``."""
    found = patterns(groups)
    names: dict[str, WildcardName] = {}
    for pattern in found:
        model = groups[pattern.group][0].model
        provider = model.partition("/")[0]
        model_pattern = Pattern(model, *model.split("*"))
        for info in catalogue.list(provider):
            part = model_pattern.part(info.key)
            if part is None or info.mode not in MODES:
                continue
            twins = [pattern.name_for(part)]
            if model_pattern.prefix == f"{provider}/":
                twins.append(pattern.name_for(f"{provider}/{part}"))
            for number, name in enumerate(twins):
                routed = match(found, name)
                if (name in taken or name in names or routed is None
                        or routed[0] != pattern.group
                        or concrete_model(model, routed[1]) != info.key):
                    continue  # someone else's name, or not this model's
                names[name] = WildcardName(pattern.group, info, listed=number == 0)
    return names
