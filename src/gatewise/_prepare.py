"""Turning a call's arguments into a request: the logic ``Client`` and ``AsyncClient`` share.

Resolves ``provider/model``, picks the adapter, separates the call options (key, base URL,
timeout, retries, headers, mocking) from the model parameters, finds the key and base URL
(argument, then client default, then the provider's environment variables), and asks the
adapter for the body.  Nothing here does I/O beyond reading ``os.environ`` at call time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gatewise._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
)
from gatewise._http import Request, RetryPolicy, Timeout
from gatewise.catalogue import Catalogue, ModelInfo, estimate_prompt_tokens, fits_context
from gatewise.providers.base import PROVIDERS, Adapter, ProviderSpec, adapter_for, split_model

USER_AGENT = "gatewise/0.1.0"

_OPTION_NAMES = frozenset({
    "api_key", "api_base", "base_url", "timeout", "request_timeout", "num_retries",
    "max_retries", "extra_headers", "drop_params", "mock_response", "custom_llm_provider",
})


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's defaults; every one can be overridden per call."""

    api_key: str | None = None
    api_base: str | None = None
    timeout: Timeout = field(default_factory=Timeout)
    num_retries: int = 2
    drop_params: bool = False
    extra_headers: Mapping[str, str] | None = None

    def __repr__(self) -> str:  # the key must never show up in a repr
        key = "'***'" if self.api_key else "None"
        return (f"Settings(api_key={key}, api_base={self.api_base!r}, timeout={self.timeout!r}, "
                f"num_retries={self.num_retries!r}, drop_params={self.drop_params!r})")


@dataclass(slots=True)
class Call:
    """Everything needed to make (or mock) one call, and to read its answer."""

    provider: str
    model_id: str
    adapter: Adapter
    info: ModelInfo
    params: dict[str, Any]
    stream: bool
    timeout: Timeout
    policy: RetryPolicy
    mock: Any
    request: Request | None
    secret: str | None = field(default=None, repr=False)

    def error_for(self, status: int, body: Any, headers: Mapping[str, str]) -> APIError:
        return self.adapter.error_for(status, body, headers=headers, model=self.model_id)


def _split_options(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {k: params.pop(k) for k in _OPTION_NAMES.intersection(params)}
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


@functools.lru_cache(maxsize=64)
def _timeout_of(value: float) -> Timeout:
    return Timeout.of(value)  # a memo: a deployment passes the same timeout on every call


_POLICIES = tuple(RetryPolicy(num_retries=n) for n in range(8))


def _timeout(options: dict[str, Any], settings: Settings) -> Timeout:
    value = options.get("timeout", options.get("request_timeout"))
    try:
        if value is None:
            return settings.timeout
        return _timeout_of(value) if type(value) in (int, float) else Timeout.of(value)
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
    return _POLICIES[value] if value < len(_POLICIES) else RetryPolicy(num_retries=value)


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
    key: str = field(repr=False)
    env: tuple[tuple[str, str | None], ...] = field(repr=False)
    """The environment variables read to build it, and what they said."""
    revision: int
    """The catalogue's revision it was looked up in."""


def _target(settings: Settings, catalogue: Catalogue, model: str, options: dict[str, Any]
            ) -> Target:
    spec, model_id = _resolve(model, options)
    env: list[tuple[str, str | None]] = []
    key = _api_key(spec, options, settings, env)
    return Target(spec, model_id, adapter_for(spec.name),
                  catalogue.get(f"{spec.name}/{model_id}"),
                  _api_base(spec, options, settings, env),
                  _headers(key, options, settings, stream=False),
                  _headers(key, options, settings, stream=True),
                  _timeout(options, settings), _policy(options, settings), key, tuple(env),
                  catalogue.revision)


# The call options a target depends on (``extra_headers`` too, but calls that pass their
# own are not memoised: a dict is no key).
_TARGET_OPTIONS = ("api_key", "api_base", "base_url", "timeout", "request_timeout",
                   "num_retries", "max_retries", "custom_llm_provider")


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
        if "extra_headers" in options:
            return _target(settings, catalogue, model, options)
        values = [options.get(name) for name in _TARGET_OPTIONS]
        # With their types: 1 == 1.0 == True, but only the first is a valid num_retries.
        memo = (model, *values, *map(type, values))
        try:
            target = self._memo.get(memo)
        except TypeError:  # an unhashable option (the checks below say what is wrong)
            return _target(settings, catalogue, model, options)
        if (target is None or target.revision != catalogue.revision
                or any(os.environ.get(name) != value for name, value in target.env)):
            target = _target(settings, catalogue, model, options)
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            self._memo[memo] = target
        return target


def _check_context_window(info: ModelInfo, messages: list[Any], params: dict[str, Any],
                          body: bytes | None = None) -> None:
    """Refuse, before the network, a prompt that clearly cannot fit the model's window.

    The estimate never exceeds the body's size in bytes (a character is at most a token,
    and each message's JSON outweighs its control tokens) unless media parts count: a
    body without typed parts that fits by its size alone needs no estimate."""
    window = info.max_input_tokens
    if not info.known or window is None:
        return
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens") or 0
    if not isinstance(max_tokens, int):
        return  # the adapter reports a bad value
    if body is not None and len(body) + max_tokens < window and b'"type":"' not in body:
        return
    tokens = estimate_prompt_tokens(messages, params.get("tools"))
    if not fits_context(info, tokens, max_tokens):
        raise ContextWindowExceededError(
            f"the prompt (about {tokens} tokens) plus max_tokens={max_tokens} does not fit "
            f"{info.key}'s context window of {info.max_input_tokens} tokens",
            provider=info.provider, model=info.model, param="messages",
            code="context_length_exceeded",
        )


def encode_body(body: Any) -> bytes:
    """``body`` as JSON bytes; a value JSON cannot carry (an integer beyond 64 bits, a lone
    surrogate, a non-string key, nesting past orjson's limit) is refused as the caller's
    error, naming where it sits in the body when it can be found."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as error:
        path, why = _unencodable(body) or ("body", str(error))
        raise BadRequestError(
            f"the request holds a value that cannot be sent as JSON: {path} {why}",
            param=path) from None


def _unencodable(body: Any) -> tuple[str, str] | None:
    """Where and why orjson gave up on ``body`` (run only after it has: not on the way)."""
    stack: list[tuple[Any, str, int]] = [(body, "body", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > 254:
                return _shortened(path), "is nested too deeply"
            for key in value:
                if not isinstance(key, str):
                    return path, f"has a key that is not a string: {key!r}"
                if not _utf8(key):
                    return path, "has a key holding a lone surrogate, which is not valid UTF-8"
            base = "" if depth == 1 else f"{path}."  # top-level fields by their own name
            stack.extend((v, base + k, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list | tuple):
            if depth > 254:
                return _shortened(path), "is nested too deeply"
            stack.extend((v, f"{path}[{i}]", depth + 1)
                         for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and not _utf8(value):
            return path, "holds a lone surrogate, which is not valid UTF-8"
        elif isinstance(value, int) and not -(2**63) <= value < 2**64:
            return path, "is an integer beyond the 64 bits JSON carries here"
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shortened(path: str) -> str:
    return path if len(path) <= 120 else path[:120] + "..."


def prepare_chat(settings: Settings, catalogue: Catalogue, model: str,
                 messages: Any, params: dict[str, Any], targets: Targets | None = None
                 ) -> Call:
    """Build the request for a chat call (or note that it is mocked)."""
    options, params = _split_options(dict(params))
    mock = options.get("mock_response")
    if mock is not None:
        return _mocked_chat(settings, catalogue, model, messages, params, options)
    target = (targets.get(settings, catalogue, model, options) if targets is not None
              else _target(settings, catalogue, model, options))
    _check_messages(messages)
    stream = bool(params.get("stream"))
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter, info = target.adapter, target.info
    body = adapter.build_chat_body(target.model_id, messages, params, drop_params=drop,
                                   model_info=info)
    content = encode_body(body)
    _check_context_window(info, messages, params, content)
    request = Request("POST", target.api_base + adapter.CHAT_PATH,
                      target.stream_headers if stream else target.headers, content)
    return Call(target.spec.name, target.model_id, adapter, info, params, stream,
                target.timeout, target.policy, None, request, target.key)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("`messages` must be a non-empty list of message objects",
                              param="messages")


def _mocked_chat(settings: Settings, catalogue: Catalogue, model: str, messages: Any,
                 params: dict[str, Any], options: dict[str, Any]) -> Call:
    """A mocked call needs no key, URL or headers: nothing is sent."""
    spec, model_id = _resolve(model, options)
    _check_messages(messages)
    adapter = adapter_for(spec.name)
    info = catalogue.get(f"{spec.name}/{model_id}")
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter.build_chat_body(model_id, messages, params, drop_params=drop, model_info=info)
    _check_context_window(info, messages, params)
    return Call(spec.name, model_id, adapter, info, params, bool(params.get("stream")),
                _timeout(options, settings), _policy(options, settings),
                options["mock_response"], None)


def prepare_embedding(settings: Settings, catalogue: Catalogue, model: str, input: Any,
                      params: dict[str, Any], targets: Targets | None = None
                      ) -> tuple[Call, list[Request]]:
    """Build the request(s) for an embedding call: inputs over the provider's per-request
    limits are split into several requests, to be merged in order."""
    options, params = _split_options(dict(params))
    mock = options.get("mock_response")
    if mock is None:
        target = (targets.get(settings, catalogue, model, options) if targets is not None
                  else _target(settings, catalogue, model, options))
        spec, model_id, adapter, info = target.spec, target.model_id, target.adapter, target.info
    else:
        spec, model_id = _resolve(model, options)
        adapter = adapter_for(spec.name)
        info = catalogue.get(f"{spec.name}/{model_id}")
    if isinstance(input, str):
        inputs = [input]
    elif isinstance(input, list) and input and all(isinstance(i, str) for i in input):
        inputs = input
    else:
        raise BadRequestError("`input` must be a string or a non-empty list of strings",
                              param="input")
    drop = bool(options.get("drop_params", settings.drop_params))
    batches = adapter.split_embedding_inputs(inputs)
    bodies = [adapter.build_embedding_body(model_id, batch, params, drop_params=drop,
                                           model_info=info) for batch in batches]
    if mock is not None:
        call = Call(spec.name, model_id, adapter, info, params, False,
                    _timeout(options, settings), _policy(options, settings), mock, None)
        return call, []
    url = target.api_base + adapter.EMBEDDINGS_PATH
    requests = [Request("POST", url, target.headers, encode_body(body)) for body in bodies]
    call = Call(spec.name, model_id, adapter, info, params, False, target.timeout,
                target.policy, None, None, target.key)
    return call, requests
