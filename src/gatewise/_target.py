"""Where a call goes and how: ``Settings`` (a client's defaults), the call options, and a
``Target`` resolved from a model and its options -- provider, adapter, catalogue record, URL
base, headers with the key (argument, then client default, then the provider's environment
variable), timeout and retries.  A client memoises its targets (:class:`Targets`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatewise._exceptions import AuthenticationError, BadRequestError
from gatewise._http import RetryPolicy, Timeout
from gatewise._http._models import SslVerify
from gatewise._http._secrets import NO_SECRETS, Secrets, call_secrets
from gatewise.catalogue import Catalogue, ModelInfo
from gatewise.providers.base import PROVIDERS, Adapter, ProviderSpec, adapter_for, split_model

USER_AGENT = "gatewise/0.1.0"

OPTION_NAMES = frozenset({
    "api_key", "api_base", "base_url", "timeout", "request_timeout", "num_retries",
    "max_retries", "extra_headers", "drop_params", "mock_response", "custom_llm_provider",
    "ssl_verify",
})
"""A call's options (where and how to call), not the model's parameters."""


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's defaults; every one can be overridden per call."""

    api_key: str | None = None
    api_base: str | None = None
    timeout: Timeout = field(default_factory=Timeout)
    num_retries: int = 2
    drop_params: bool = False
    extra_headers: Mapping[str, str] | None = None
    redact: tuple[str, ...] = ()
    """Values no error may show, besides each call's key and header values."""
    ssl_verify: SslVerify = True

    def __repr__(self) -> str:  # the key must never show up in a repr
        key = "'***'" if self.api_key else "None"
        return (f"Settings(api_key={key}, api_base={self.api_base!r}, timeout={self.timeout!r}, "
                f"num_retries={self.num_retries!r}, drop_params={self.drop_params!r})")


def split_options(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {k: params.pop(k) for k in OPTION_NAMES.intersection(params)}
    return options, params


def _resolve(model: str, options: dict[str, Any]) -> tuple[ProviderSpec, str]:
    provider = options.get("custom_llm_provider")
    if provider and "/" not in str(model):
        model = f"{provider}/{model}"
    name, model_id = split_model(model)
    return PROVIDERS[name], model_id


def _api_key(spec: ProviderSpec, options: dict[str, Any], settings: Settings,
             env: list[tuple[str, str | None]]) -> str:
    key = options.get("api_key") or settings.api_key
    if not key:
        key = _read_env(spec.api_key_env, env)
    if not key:
        raise AuthenticationError(
            f"no API key for provider {spec.name!r}: pass api_key=... or set "
            f"{spec.api_key_env} in the environment",
            provider=spec.name,
        )
    return str(key)


def _api_base(spec: ProviderSpec, options: dict[str, Any], settings: Settings,
              env: list[tuple[str, str | None]]) -> str:
    base = (options.get("api_base") or options.get("base_url") or settings.api_base
            or _read_env(spec.api_base_env, env) or spec.default_api_base)
    return str(base).rstrip("/")


def _read_env(name: str, env: list[tuple[str, str | None]]) -> str | None:
    value = os.environ.get(name)
    env.append((name, value))
    return value


def _timeout(options: dict[str, Any], settings: Settings) -> Timeout:
    value = options.get("timeout", options.get("request_timeout"))
    try:
        if value is None:
            return settings.timeout
        return Timeout.of(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"timeout must be a positive number of seconds, got {value!r}",
                              param="timeout") from None


def _policy(options: dict[str, Any], settings: Settings) -> RetryPolicy:
    value = options.get("num_retries", options.get("max_retries"))
    if value is None:
        value = settings.num_retries
    elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequestError(f"num_retries must be an integer >= 0, got {value!r}",
                              param="num_retries")
    return RetryPolicy(num_retries=value)


def _ssl_verify(options: dict[str, Any], settings: Settings) -> SslVerify:
    value = options.get("ssl_verify")
    if value is None:
        return settings.ssl_verify
    if isinstance(value, bool) or (isinstance(value, str) and value):
        return value
    raise BadRequestError("ssl_verify must be true, false or the path of a CA bundle, got "
                          f"{value!r}", param="ssl_verify")


def _headers(key: str, options: dict[str, Any], settings: Settings, *, stream: bool
             ) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": USER_AGENT,
    }
    for extra in (settings.extra_headers, options.get("extra_headers")):
        if extra:
            headers.update({str(k): str(v) for k, v in extra.items()})
    return headers


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """Where a call goes and how: everything its model and call options decide (provider,
    adapter, catalogue record, URL base, headers with the key, timeout, retries)."""

    spec: ProviderSpec
    model_id: str
    adapter: Adapter
    info: ModelInfo
    api_base: str
    headers: Mapping[str, str] = field(repr=False)  # they hold the key
    stream_headers: Mapping[str, str] = field(repr=False)
    timeout: Timeout
    policy: RetryPolicy
    key: str | None = field(repr=False)  # None for a mocked call: it sends nothing
    secrets: Secrets = field(repr=False)
    """What no error of its calls may show: the key, header values, the client's redact."""
    ssl_verify: SslVerify
    env: tuple[tuple[str, str | None], ...] = field(repr=False)
    """The environment variables read to build it, and what they said."""
    revision: int
    """The catalogue's revision it was looked up in."""


def build_target(settings: Settings, catalogue: Catalogue, model: str,
                 options: dict[str, Any], *, mocked: bool = False) -> Target:
    """The target of ``model`` with ``options``; a ``mocked`` call sends nothing, so it
    needs no key (None), URL or headers (empty)."""
    spec, model_id = _resolve(model, options)
    env: list[tuple[str, str | None]] = []
    key: str | None = None
    base, headers, stream_headers = "", {}, {}
    secrets = NO_SECRETS
    if not mocked:
        key = _api_key(spec, options, settings, env)
        base = _api_base(spec, options, settings, env)
        headers = _headers(key, options, settings, stream=False)
        stream_headers = _headers(key, options, settings, stream=True)
        secrets = call_secrets(key, (settings.extra_headers, options.get("extra_headers")),
                               settings.redact)
    return Target(spec, model_id, adapter_for(spec.name),
                  catalogue.get(f"{spec.name}/{model_id}"), base, headers, stream_headers,
                  _timeout(options, settings), _policy(options, settings), key, secrets,
                  _ssl_verify(options, settings), tuple(env), catalogue.revision)


# The call options a target depends on.
_TARGET_OPTIONS = ("api_key", "api_base", "base_url", "timeout", "request_timeout",
                   "num_retries", "max_retries", "custom_llm_provider", "ssl_verify")


class Targets:
    """A client's memo of targets by model and call options (a router or the proxy calls
    the same few deployments again and again).  A target is built again when the
    environment variables it read say something else, or the catalogue has changed."""

    __slots__ = ("_memo",)
    LIMIT = 256

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Target] = {}

    def get(self, settings: Settings, catalogue: Catalogue, model: str,
            options: dict[str, Any]) -> Target:
        extra = options.get("extra_headers")
        memo: tuple[Any, ...]
        if extra is None:
            # The options as given (a router's are the same few, in the same order, on
            # every call of a deployment) and their types: 1 == 1.0 == True, but only the
            # first is a valid num_retries.
            memo = (model, tuple(options.items()), tuple(map(type, options.values())))
        else:
            values = [options.get(name) for name in _TARGET_OPTIONS]
            memo = (model, *values, *map(type, values),
                    tuple(extra.items()) if isinstance(extra, Mapping) else extra)
        try:
            target = self._memo.get(memo)
        except TypeError:  # an unhashable option (the checks below say what is wrong)
            return build_target(settings, catalogue, model, options)
        if (target is None or target.revision != catalogue.revision or (
                target.env and any(os.environ.get(n) != v for n, v in target.env))):
            target = build_target(settings, catalogue, model, options)
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            self._memo[memo] = target
        return target
