"""The management API's request bodies are pydantic models built from these parts.

Every body is strict (a number is not a string, a bool is not a number) and forbids
unknown fields; fields that LiteLLM accepts but gatewise does not support are refused
with a message saying so (an ignored budget or limit field would be a bypass) -- unless
they ask for nothing: empty (``null``, ``[]``, ``{}``, ``""``) or LiteLLM's own default
(``"spend": 0`` on a new key), as LiteLLM's clients send every field of their request
models.  A field sent as ``null`` takes its default: no limit, every model, no metadata,
not blocked.
:func:`parse_body` turns what pydantic finds into OpenAI's 400 naming the field, and never
echoes a value (it could be a key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gatewise.proxy.access.periods import parse_duration
from gatewise.proxy.errors import ProxyError, bad_request

__all__ = ["Alias", "Body", "CustomKey", "DurationText", "Email", "EndUserId", "Id", "KeyRef",
           "Limits", "Metadata", "Models", "asks_nothing", "parse_body"]

B = TypeVar("B", bound="Body")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_LIMIT = 10**15  # rpm/tpm: far above anything real, within a 64-bit column
MAX_PARALLEL = 2**31 - 1


def _printable(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    if text != text.strip():
        raise ValueError("must not start or end with spaces")
    return text


def _duration(text: str) -> str:
    return parse_duration(text).text


def _email(text: str) -> str:
    if "@" not in text or any(c.isspace() for c in text):
        raise ValueError("must be an email address")
    return text


def _custom_key(text: str) -> str:
    if not text.startswith("sk-") or len(text) < 11 or _CONTROL.search(text) or " " in text:
        raise ValueError("must start with 'sk-' and have at least 8 more characters, without "
                         "spaces or control characters")
    return text


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]
EndUserId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_printable)]
Alias = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_printable)]
Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
DurationText = Annotated[str, Field(max_length=32), AfterValidator(_duration)]
KeyRef = Annotated[str, Field(min_length=1, max_length=512)]
CustomKey = Annotated[str, Field(max_length=512), AfterValidator(_custom_key)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Parallel = Annotated[int, Field(ge=1, le=MAX_PARALLEL)]
Models = list[Annotated[str, Field(min_length=1, max_length=256)]]
Metadata = dict[str, Any]

NOT_SUPPORTED = ("is a LiteLLM field that gatewise does not support; leave it out (it is "
                 "refused rather than ignored, so that nothing you ask for goes unenforced)")


class Body(BaseModel):
    """A management request body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    unsupported: ClassVar[frozenset[str]] = frozenset()
    """LiteLLM's fields for this body that gatewise refuses as not supported."""
    defaults: ClassVar[Mapping[str, Any]] = {"models": [], "metadata": {}, "blocked": False}
    """What a field sent as ``null`` stores, when that is not NULL."""
    litellm_defaults: ClassVar[Mapping[str, Any]] = {}
    """Unsupported fields whose LiteLLM default (as its request model sends it) asks for
    nothing on this route: ignored like an empty value."""

    def given(self, *exclude: str) -> dict[str, Any]:
        """The fields the request set (a ``null`` as its default), but ``exclude``."""
        out = {}
        for name in self.model_fields_set - set(exclude):
            value = getattr(self, name)
            out[name] = self.defaults.get(name) if value is None else value
        return out


class Limits(Body):
    """What every identity carries: a budget and its period, and rate limits."""

    max_budget: Money | None = None
    budget_duration: DurationText | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    max_parallel_requests: Parallel | None = None
    metadata: Metadata | None = None
    blocked: bool | None = None


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")


def parse_body(model: type[B], body: Mapping[str, Any], route: str) -> B:
    """``body`` as ``model``, or a 400 naming the first field that is wrong (and saying
    what is wrong with the others too)."""
    ignored: list[str] = []
    for name, value in body.items():
        if name in model.unsupported:
            if asks_nothing(value, model.litellm_defaults.get(name, _NO_DEFAULT)):
                ignored.append(name)
                continue
            raise bad_request(f"`{name}` {NOT_SUPPORTED}", param=name,
                              code="unsupported_field")
    if ignored:
        body = {name: value for name, value in body.items() if name not in ignored}
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc, model, route) from None


_NO_DEFAULT: Any = object()


def asks_nothing(value: Any, default: Any = _NO_DEFAULT) -> bool:
    """Whether an unsupported field's ``value`` asks for nothing: empty (``None``, ``[]``,
    ``{}``, ``""``) or ``default`` (of the same kind: ``0`` is not ``False``)."""
    if value is None or (type(value) in (list, dict, str) and not value):
        return True
    if default is _NO_DEFAULT:
        return False
    if type(default) in (int, float) and type(value) in (int, float):
        return bool(value == default)
    return type(value) is type(default) and bool(value == default)


def _invalid(exc: ValidationError, model: type[Body], route: str) -> ProxyError:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(
            ("function-", "list[", "dict["))))
        name = _field_name(loc) or "body"
        if error["type"] == "extra_forbidden":
            accepted = ", ".join(sorted(model.model_fields))
            why = f"unknown field `{name}`: {route} accepts {accepted}"
        elif error["type"] == "missing":
            why = f"`{name}` is required"
        else:
            message = error["msg"].removeprefix("Value error, ")
            why = f"`{name}`: {message}"
        problems.append((name, why))
    # An unknown field first: often the misspelling of the field reported missing.
    problems.sort(key=lambda p: not p[1].startswith("unknown field"))
    first, why = problems[0]
    if len(problems) > 1:
        why += "; also " + "; ".join(w for _, w in problems[1:4])
    return bad_request(why, param=first, code="invalid_field")
