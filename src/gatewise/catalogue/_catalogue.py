"""The catalogue: facts about models, looked up by name.

The facts ship with the wheel in ``models.json`` (see its ``_meta`` block for sources) and are
read the first time a :class:`Catalogue` is asked something -- never at import, never from
the network.  A catalogue is plain instance state: :meth:`Catalogue.register` adds or
overrides entries on that instance only.  :func:`default_catalogue` is the one shared
instance, used by the module-level helpers the way the SDKs use a default client.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Iterable, Mapping
from typing import Any, overload

from gatewise.catalogue._model_info import ModelInfo

__all__ = ["FACT_NAMES", "Catalogue", "default_catalogue"]

_DATA_PACKAGE = "gatewise.catalogue"
_DATA_FILE = "models.json"

#: The facts an entry can state: every ModelInfo field but the name and derived ones.
FACT_NAMES = frozenset(f.name for f in dataclasses.fields(ModelInfo)) - {
    "provider", "model", "known", "aliases"}
#: Keys the data file may carry for maintainers; not loaded.
_ANNOTATIONS = frozenset({"source"})


class Catalogue:
    """Model facts by ``provider/model``.

    ``entries`` maps ``"provider/model"`` to facts (``ModelInfo`` field names, e.g.
    ``{"mistral/my-ft": {"max_input_tokens": 32000, "input_cost_per_token": 2e-7}}``);
    None (the default) means the packaged ``models.json``, parsed on first use.

    Lookups never raise: a name the catalogue does not know gets a ``ModelInfo`` with
    ``known=False`` and conservative defaults (chat, no reasoning, no limits, unknown prices
    so costs come out as None).  Its capability flags are False because nothing is known,
    not because the model lacks them: callers should only refuse a parameter for a *known*
    model.  Thread-safe: reads take no lock; loading and registering swap in a new index.
    """

    __slots__ = ("_index", "_lock", "revision")

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._lock = threading.RLock()
        self._index: _Index | None = None
        self.revision = 0  # entries registered so far: a memo of lookups holds while it stays
        if entries is not None:
            self._index = _Index.build(_infos_from_entries(entries))

    # -- lookups ------------------------------------------------------------------------

    def get(self, model: str, *, provider: str | None = None) -> ModelInfo:
        """Facts about ``model``, written ``"provider/model"`` or given with ``provider=``.

        ``get("mistral/mistral-small-latest")`` and
        ``get("mistral-small-latest", provider="mistral")`` are the same lookup.  A bare
        name without a provider resolves when exactly one provider has it.  An alias
        resolves to its own entry (its ``model`` stays the alias, ``canonical`` names the
        model it points at).
        """
        index = self._loaded()
        prov, model_id = _split(model, provider)
        if prov is None:
            found = index.by_id.get(model_id)
            return found if found is not None else ModelInfo(provider="", model=model_id,
                                                             known=False)
        info = index.by_key.get(f"{prov}/{model_id}")
        return info if info is not None else ModelInfo(provider=prov, model=model_id,
                                                       known=False)

    def list(self, provider: str | None = None, mode: str | None = None,
             ) -> builtins.list[ModelInfo]:
        """Known models, sorted by ``provider/model``, optionally of one provider / mode."""
        return [info for info in self._loaded().by_key.values()
                if (provider is None or info.provider == provider)
                and (mode is None or info.mode == mode)]

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model).known

    def __len__(self) -> int:
        return len(self._loaded().by_key)

    @property
    def loaded(self) -> bool:
        """Whether the facts have been read (the packaged file is read on first use)."""
        return self._index is not None

    # -- changes ------------------------------------------------------------------------

    @overload
    def register(self, model: ModelInfo, /) -> ModelInfo: ...

    @overload
    def register(self, model: str, /, *, provider: str | None = None,
                 **facts: Any) -> ModelInfo: ...

    def register(self, model: ModelInfo | str, /, *, provider: str | None = None,
                 **facts: Any) -> ModelInfo:
        """Add or override an entry on this catalogue (not on others); returns it.

        * ``register(info)`` puts a whole :class:`ModelInfo` in place.
        * ``register("mistral/mistral-small-latest", input_cost_per_token=1e-7)`` changes
          only the given facts of a known model (a negotiated price keeps the context
          window, capabilities, ...).  Each name is its own entry: overriding a dated
          model does not change its aliases.
        * ``register("mistral/ft:my-model", canonical="mistral-small-2603", ...)`` adds a
          model; when ``canonical`` names a known model, the new entry starts from its facts.

        Raises ``ValueError`` for a name without a provider and ``TypeError`` for a fact
        ``ModelInfo`` does not have.
        """
        if isinstance(model, ModelInfo):
            if facts or provider is not None:
                raise TypeError("register(info) takes no other arguments")
            new = dataclasses.replace(model, known=True)
        else:
            prov, model_id = _split(model, provider)
            if prov is None:
                raise ValueError(f"register needs a provider: write 'provider/{model_id}' "
                                 f"or pass provider=...")
            _check_facts(facts, where=f"register({model!r})")
            new = self._merged(prov, model_id, _normalise(facts))
        with self._lock:
            index = self._loaded()
            infos = dict(index.by_key)
            infos[new.key] = new
            self._index = _Index.build(infos.values())
            self.revision += 1
            return self._index.by_key[new.key]

    def _merged(self, provider: str, model_id: str, facts: dict[str, Any]) -> ModelInfo:
        index = self._loaded()
        base = index.by_key.get(f"{provider}/{model_id}")
        if base is None:
            canonical = facts.get("canonical")
            like = index.by_key.get(f"{provider}/{canonical}") if canonical else None
            base = (dataclasses.replace(like, model=model_id) if like is not None
                    else ModelInfo(provider=provider, model=model_id))
        return dataclasses.replace(base, known=True, **facts)

    # -- loading ------------------------------------------------------------------------

    def _loaded(self) -> _Index:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._index = _Index.build(_parse_data_file(_read_data_file()))
                index = self._index
        return index


@dataclasses.dataclass(frozen=True, slots=True)
class _Index:
    by_key: dict[str, ModelInfo]
    #: bare model id -> its entry when exactly one provider has that id
    by_id: dict[str, ModelInfo]

    @classmethod
    def build(cls, infos: Iterable[ModelInfo]) -> _Index:
        linked = _link_aliases({info.key: info for info in infos})
        by_key = dict(sorted(linked.items()))
        counts: dict[str, int] = {}
        for info in by_key.values():
            counts[info.model] = counts.get(info.model, 0) + 1
        by_id = {info.model: info for info in by_key.values() if counts[info.model] == 1}
        return cls(by_key, by_id)


def _link_aliases(infos: dict[str, ModelInfo]) -> dict[str, ModelInfo]:
    """Fill each entry's ``aliases``: the other names of the same model (its canonical
    name and the entries pointing at the same canonical, or those pointing at it)."""
    groups: dict[str, set[str]] = {}
    for info in infos.values():
        if info.canonical:
            groups.setdefault(f"{info.provider}/{info.canonical}", set()).add(info.model)
    linked: dict[str, ModelInfo] = {}
    for key, info in infos.items():
        if info.canonical:
            names = {info.canonical} | groups[f"{info.provider}/{info.canonical}"]
        else:
            names = groups.get(key, set())
        aliases = tuple(sorted(names - {info.model}))
        linked[key] = info if info.aliases == aliases else dataclasses.replace(
            info, aliases=aliases)
    return linked


def _split(model: str, provider: str | None) -> tuple[str | None, str]:
    if provider is not None:
        return provider, model.removeprefix(f"{provider}/")
    prov, sep, model_id = model.partition("/")
    if sep and prov and model_id:
        return prov, model_id
    return None, model


def _check_facts(facts: Mapping[str, Any], *, where: str) -> None:
    unknown = set(facts) - FACT_NAMES
    if unknown:
        raise TypeError(f"{where}: unknown fact(s) {sorted(unknown)}; "
                        f"known: {sorted(FACT_NAMES)}")


def _normalise(facts: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(facts)
    levels = out.get("reasoning_effort_levels")
    if levels is not None:
        out["reasoning_effort_levels"] = tuple(levels)
    return out


def _info(provider: str, model_id: str, facts: Mapping[str, Any], *, where: str) -> ModelInfo:
    facts = {k: v for k, v in facts.items() if k not in _ANNOTATIONS}
    _check_facts(facts, where=where)
    return ModelInfo(provider=provider, model=model_id, **_normalise(facts))


def _infos_from_entries(entries: Mapping[str, Mapping[str, Any]]) -> list[ModelInfo]:
    infos = []
    for key, given in entries.items():
        facts = dict(given)
        prov, model_id = _split(key, facts.pop("provider", None))
        if prov is None:
            raise ValueError(f"catalogue entry {key!r}: write the key as 'provider/model' "
                             f"or give a 'provider' fact")
        infos.append(_info(prov, model_id, facts, where=f"catalogue entry {key!r}"))
    return infos


def _read_data_file() -> bytes:
    from importlib.resources import files

    return files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_bytes()


def _parse_data_file(raw: bytes) -> list[ModelInfo]:
    import orjson

    doc = orjson.loads(raw)
    infos = []
    for entry in doc["models"]:
        facts = dict(entry)
        model_id, prov = facts.pop("id"), facts.pop("provider")
        infos.append(_info(prov, model_id, facts, where=f"{_DATA_FILE}: {prov}/{model_id}"))
    return infos


_default_lock = threading.Lock()
_default: Catalogue | None = None


def default_catalogue() -> Catalogue:
    """The process-wide catalogue used when none is passed (by ``completion_cost``,
    ``token_counter`` and clients built without one), like an SDK's default client.

    Built on first call; its facts are read on its first lookup.  ``register`` on it is
    seen by every user of the default: pass your own :class:`Catalogue` to keep changes
    local.
    """
    global _default
    catalogue = _default
    if catalogue is None:
        with _default_lock:
            if _default is None:
                _default = Catalogue()
            catalogue = _default
    return catalogue
