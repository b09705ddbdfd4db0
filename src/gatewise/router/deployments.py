"""A deployment: one concrete way to serve a model name (a model, a key, a base URL, limits).

Built from one ``model_list`` entry::

    {"model_name": "small",
     "params": {"model": "mistral/mistral-small-latest", "api_key": "...", "rpm": 600},
     "model_info": {"id": "small-eu"}}

Routing fields (``rpm``, ``tpm``, ``weight``, ``order``, ``timeout``, ``stream_timeout``)
may sit in ``params`` or on the entry itself; everything else in ``params`` is passed to
the client on each call.  The id is ``model_info.id`` when given, else a short hash of the
model name and the params *without secrets* (so it is stable across processes sharing one
state store, and safe to show); identical entries get ``-2``, ``-3``... suffixes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

ROUTING_FIELDS = frozenset({"rpm", "tpm", "weight", "order", "timeout", "stream_timeout",
                            "num_retries", "max_retries"})
_SECRET_HINTS = ("key", "secret", "token", "password", "authorization", "credential")
_NOT_SECRET = frozenset({"max_tokens", "max_completion_tokens", "tpm"})


def is_secret(name: str) -> bool:
    """Whether a parameter (or header) name looks like it holds a credential."""
    lowered = name.lower()
    return lowered not in _NOT_SECRET and any(hint in lowered for hint in _SECRET_HINTS)


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with every secret-looking value (also inside ``extra_headers``) masked."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if is_secret(name):
            out[name] = "***"
        elif isinstance(value, Mapping):
            out[name] = redact(value)
        else:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment of a model group.  Its ``repr`` never shows ``params`` (keys)."""

    id: str
    model_name: str
    model: str
    params: Mapping[str, Any] = field(repr=False, compare=False)
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None
    order: int = 1
    num_retries: int | None = None  # retries its model group may make (the most any asks)
    timeout: float | None = None
    stream_timeout: float | None = None
    model_info: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def api_base(self) -> str | None:
        base = self.params.get("api_base") or self.params.get("base_url")
        return None if base is None else str(base)

    def describe(self) -> dict[str, Any]:
        """A secret-free summary, for logs and ``/health``."""
        return {"id": self.id, "model_name": self.model_name, "model": self.model,
                "api_base": self.api_base, "rpm": self.rpm, "tpm": self.tpm,
                "weight": self.weight, "order": self.order}


def _number(value: Any, name: str, where: str, *, integer: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive number, got {value!r}")
    if integer:
        if int(value) != value:
            raise ValueError(f"{where}: {name} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _fingerprint(model_name: str, params: Mapping[str, Any]) -> str:
    def public(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): ("***" if is_secret(str(k)) else public(v))
                    for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple):
            return [public(v) for v in value]
        return value if isinstance(value, str | int | float | bool | None) else repr(value)

    text = json.dumps([model_name, public(params)], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _one(entry: Mapping[str, Any], index: int) -> tuple[Deployment, bool]:
    where = f"model_list[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(entry).__name__}")
    model_name = entry.get("model_name")
    raw = entry.get("params", entry.get("litellm_params"))
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"{where}: model_name must be a non-empty string")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("model"), str):
        raise ValueError(f"{where}: params must be a mapping with a 'model' string")
    params = dict(raw)
    model = params.pop("model")
    routing = {name: entry[name] for name in ROUTING_FIELDS if name in entry}
    routing.update({name: params.pop(name) for name in ROUTING_FIELDS if name in params})
    info = entry.get("model_info") or {}
    if not isinstance(info, Mapping):
        raise ValueError(f"{where}: model_info must be a mapping")
    explicit = info.get("id")
    order = _number(routing.get("order"), "order", where, integer=True)
    retries = routing.get("num_retries", routing.get("max_retries"))
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)
                                or retries < 0):
        raise ValueError(f"{where}: num_retries must be a whole number >= 0, got {retries!r}")
    deployment = Deployment(
        id=str(explicit) if explicit is not None else _fingerprint(model_name, raw),
        model_name=model_name,
        model=model,
        params=MappingProxyType(params),
        rpm=_number(routing.get("rpm"), "rpm", where, integer=True),
        tpm=_number(routing.get("tpm"), "tpm", where, integer=True),
        weight=_number(routing.get("weight"), "weight", where, integer=False),
        order=1 if order is None else order,
        num_retries=retries,
        timeout=_number(routing.get("timeout"), "timeout", where, integer=False),
        stream_timeout=_number(routing.get("stream_timeout"), "stream_timeout", where,
                               integer=False),
        model_info=MappingProxyType(dict(info)),
    )
    return deployment, explicit is not None


def build_deployments(model_list: Iterable[Mapping[str, Any]]) -> tuple[Deployment, ...]:
    """Parse and validate ``model_list``; ids are unique (explicit duplicates are an error)."""
    built = [_one(entry, i) for i, entry in enumerate(model_list)]
    seen: dict[str, int] = {}
    out: list[Deployment] = []
    explicit_ids = {d.id for d, explicit in built if explicit}
    for deployment, explicit in built:
        if explicit:
            if deployment.id in seen:
                raise ValueError(f"two deployments share model_info.id {deployment.id!r}")
            seen[deployment.id] = 1
            out.append(deployment)
            continue
        base, n = deployment.id, seen.get(deployment.id, 0) + 1
        seen[base] = n
        unique = base if n == 1 else f"{base}-{n}"
        while unique in explicit_ids:
            n += 1
            unique = f"{base}-{n}"
        out.append(_replace_id(deployment, unique))
    if not out:
        raise ValueError("model_list is empty: give at least one deployment")
    return tuple(out)


def _replace_id(deployment: Deployment, new_id: str) -> Deployment:
    return deployment if new_id == deployment.id else replace(deployment, id=new_id)
