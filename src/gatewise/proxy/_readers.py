"""``Reader``: checks one config value at a time, collecting problems and warnings by path.

Unknown keys: one close to a key gatewise knows at that place (:func:`did_you_mean`) is
taken for a typo of it, an error naming both -- or, when it stands for a required key that
is missing, the missing key's error names it; a key LiteLLM documents there that gatewise
does not implement (``_litellm_keys``) is a warning; any other unknown key is a warning.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, MutableMapping
from typing import Any

from gatewise.proxy._env import env_name
from gatewise.proxy._litellm_keys import BY_SECTION


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _edits(a: str, b: str) -> int:
    """Letters added, removed, changed or two neighbours swapped to turn ``a`` into ``b``
    (the optimal string alignment distance)."""
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        earlier, before, row = before, row, [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            row[j] = min(before[j] + 1, row[j - 1] + 1, before[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                row[j] = min(row[j], earlier[j - 2] + 1)
    return row[-1]


def did_you_mean(word: str, known: Iterable[str]) -> str | None:
    """The known key ``word`` is most likely a typo of, if any: case aside, at most one edit
    away from a key of up to 5 characters, two from one of up to 12, three beyond."""
    best: tuple[int, str] | None = None
    lower = word.lower()
    for key in known:
        allowed = 1 if len(key) <= 5 else 2 if len(key) <= 12 else 3
        if abs(len(key) - len(lower)) > allowed:
            continue
        distance = _edits(lower, key.lower())
        if distance <= allowed and (best is None or (distance, key) < best):
            best = (distance, key)
    return best[1] if best else None


def found(typos: Mapping[str, str], *keys: str) -> str:
    """What to add to a required key's error when a typo of it was found instead."""
    for key in keys:
        if key in typos:
            return f" (found {typos[key]!r}: did you mean {key}?)"
    return ""


class Reader:
    def __init__(self, source: str, environ: MutableMapping[str, str]) -> None:
        self.source = source
        self.environ = environ
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}" if path
                             else f"{self.source}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {path}: {message}")

    def unknown_keys(self, mapping: Mapping[str, Any], known: Collection[str], path: str, *,
                     missing: Collection[str] = (), foreign: Collection[str] | None = None,
                     ) -> dict[str, str]:
        """Report the keys of ``mapping`` that are not ``known`` (see the module's doc).
        ``missing``: required keys absent from ``mapping``; a typo of one is returned
        (``{required: typo}``) for the missing key's error to name, not reported here.
        ``foreign``: the keys LiteLLM documents at ``path`` (by default, by section)."""
        if foreign is None:
            foreign = BY_SECTION.get(path, ())
        typos: dict[str, str] = {}
        for key in mapping:
            if key in known:
                continue
            where = _join(path, key)
            if key in foreign:
                self.warn(where, "a LiteLLM setting gatewise does not implement: ignored")
                continue
            close = did_you_mean(str(key), known)
            if close is None:
                self.warn(where, "unknown key, ignored")
            elif close in missing and close not in typos:
                typos[close] = key
            else:
                self.error(where, f"unknown key (did you mean {close!r}?)")
        return typos

    def resolve(self, value: Any, path: str, missing: list[str] | None = None) -> Any:
        """Replace every ``os.environ/NAME`` inside ``value``.  An unset variable is added to
        ``missing`` (and becomes None) when given, else it is an error."""
        if isinstance(value, dict):
            return {k: self.resolve(v, _join(path, k), missing) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{path}[{i}]", missing) for i, v in enumerate(value)]
        name = env_name(value)
        if name is None:
            return value
        if not name:
            self.error(path, "os.environ/ needs a variable name, e.g. os.environ/MISTRAL_API_KEY")
            return None
        resolved = self.environ.get(name)
        if resolved:
            return resolved
        if missing is None:
            self.error(path, f"{name} is not set (referenced as os.environ/{name})")
        else:
            missing.append(name)
        return None

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, got {_kind(value)}")
            return None
        bad = [k for k in value if not isinstance(k, str)]
        for key in bad:
            self.error(_join(path, key), "keys must be strings")
        return None if bad else value

    def string(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(path, f"must be a string, got {_kind(value)}")
            return None
        text = str(value).strip()
        if not text:
            self.error(path, "must not be empty")
            return None
        return text

    def boolean(self, value: Any, path: str) -> bool | None:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"  # from os.environ/NAME
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {_kind(value)}")
            return None
        return value

    def number(self, value: Any, path: str) -> float | None:
        """A number >= 0 (a string of digits is accepted, as os.environ/NAME gives)."""
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            self.error(path, f"must be a number, got {_kind(value)}")
            return None
        if not number >= 0:  # negative, or NaN
            self.error(path, f"must be >= 0, got {value!r}")
            return None
        return number

    def seconds(self, value: Any, path: str) -> float | None:
        return self.positive(value, path, "a number of seconds")

    def positive(self, value: Any, path: str, what: str = "a number") -> float | None:
        number = self.number(value, path)
        if number == 0:
            self.error(path, f"must be {what} > 0")
            return None
        return number

    def count(self, value: Any, path: str, low: int = 0) -> int | None:
        number = self.number(value, path)
        if number is None:
            return None
        if number != int(number) or number < low:
            self.error(path, f"must be a whole number >= {low}, got {value!r}")
            return None
        return int(number)

    def url(self, value: Any, path: str) -> str | None:
        text = self.string(value, path)
        if text is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        if "@" in parts.netloc:  # the URL itself is never repeated: it holds a secret
            self.error(path, "must not carry credentials (user:password@host): put the key "
                             "in api_key, or a header in extra_headers")
            return None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.error(path, "must be an http(s) URL, e.g. https://api.mistral.ai/v1; "
                             f"got {text!r}")
            return None
        return text.rstrip("/")

    def ssl_verify(self, value: Any, path: str) -> bool | str | None:
        """true, false, or the path of a CA bundle (a PEM file, or a directory of hashed
        certificates), which must exist when the config is read."""
        if isinstance(value, bool) or (isinstance(value, str)
                                       and value.lower() in ("true", "false")):
            return self.boolean(value, path)
        if not isinstance(value, str) or not value.strip():
            self.error(path, "must be true, false or the path of a CA bundle, got "
                             f"{_kind(value)}")
            return None
        import os

        if not os.path.exists(value):
            self.error(path, f"no CA bundle at {value!r} (true, false or the path of a PEM "
                             "file of CA certificates)")
            return None
        return value

    def headers(self, value: Any, path: str) -> dict[str, str] | None:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()):
            self.error(path, "must be a mapping of header names to string values")
            return None
        return {k: str(v) for k, v in value.items()}

    def model(self, value: Any, path: str, example: str) -> str | None:
        from gatewise.providers.base import PROVIDERS

        if value is None:
            self.error(path, f"required {example}")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a 'provider/model-id' string {example}")
            return None
        provider, sep, model_id = value.strip().partition("/")
        if not sep or not model_id:
            self.error(path, f"{value!r} has no provider prefix; write it as "
                             f"'provider/model-id', e.g. 'mistral/{value}'")
            return None
        if provider not in PROVIDERS:
            known = ", ".join(sorted(PROVIDERS))
            self.error(path, f"unknown provider {provider!r}; known: {known}")
            return None
        return value.strip()
