"""Turning a call's arguments into a request: the logic ``Client`` and ``AsyncClient`` share.

Separates the call options from the model parameters, finds where the call goes
(:mod:`gatewise._target`: provider, adapter, key, URL, headers), and asks the adapter for
the body.  Nothing here does I/O beyond reading ``os.environ`` at call time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gatewise._exceptions import APIError, BadRequestError, ContextWindowExceededError
from gatewise._http import Request, RetryPolicy, Timeout
from gatewise._http._secrets import NO_SECRETS, Secrets
from gatewise._target import Settings, Target, Targets, build_target, split_options
from gatewise.catalogue import Catalogue, ModelInfo, estimate_prompt_tokens, fits_context
from gatewise.providers.base import Adapter, StreamTranslator

__all__ = ["MAX_EMBEDDING_INPUTS", "Call", "Settings", "Targets", "encode_body", "prepare_chat",
           "prepare_embedding"]

MAX_EMBEDDING_INPUTS = 2048
"""Inputs one embeddings call may hold (OpenAI's limit): bigger ones are split by the caller,
not turned into one answer of hundreds of MB."""


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
    secrets: Secrets = field(default=NO_SECRETS, repr=False)
    """What no error of this call may show (its key, header values...)."""

    def error_for(self, status: int, body: Any, headers: Mapping[str, str]) -> APIError:
        return self.adapter.error_for(status, body, headers=headers, model=self.model_id)

    def translator(self) -> StreamTranslator:
        """A fresh translator for this call's stream."""
        return self.adapter.stream_translator(self.model_id, self.params, self.info)


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


def _target(settings: Settings, catalogue: Catalogue, model: str, options: dict[str, Any],
            targets: Targets) -> Target:
    if options.get("mock_response") is not None:
        return build_target(settings, catalogue, model, options, mocked=True)
    return targets.get(settings, catalogue, model, options)


def prepare_chat(settings: Settings, catalogue: Catalogue, model: str,
                 messages: Any, params: dict[str, Any], targets: Targets) -> Call:
    """Build the request for a chat call (or note that it is mocked)."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("`messages` must be a non-empty list of message objects",
                              param="messages")
    stream = bool(params.get("stream"))
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter, info = target.adapter, target.info
    body = adapter.build_chat_body(target.model_id, messages, params, drop_params=drop,
                                   model_info=info)
    mock = options.get("mock_response")
    request = None
    if mock is None:
        content = encode_body(body)
        _check_context_window(info, messages, params, content)
        request = Request("POST", target.api_base + adapter.CHAT_PATH,
                          target.stream_headers if stream else target.headers, content,
                          target.ssl_verify)
    else:
        _check_context_window(info, messages, params)
    return Call(target.spec.name, target.model_id, adapter, info, params, stream,
                target.timeout, target.policy, mock, request, target.secrets)


def too_many_inputs(count: int) -> BadRequestError:
    return BadRequestError(f"`input` holds {count} strings; one request takes at most "
                           f"{MAX_EMBEDDING_INPUTS} (split them over several requests)",
                           param="input")


def prepare_embedding(settings: Settings, catalogue: Catalogue, model: str, input: Any,
                      params: dict[str, Any], targets: Targets
                      ) -> tuple[Call, list[Request]]:
    """Build the request(s) for an embedding call: inputs over the provider's per-request
    limits are split into several requests, to be merged in order."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    if isinstance(input, str):
        inputs = [input]
    elif isinstance(input, list) and input and all(isinstance(i, str) for i in input):
        inputs = input
    else:
        raise BadRequestError("`input` must be a string or a non-empty list of strings",
                              param="input")
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise too_many_inputs(len(inputs))
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter, model_id, info = target.adapter, target.model_id, target.info
    bodies = [adapter.build_embedding_body(model_id, batch, params, drop_params=drop,
                                           model_info=info)
              for batch in adapter.split_embedding_inputs(inputs)]
    mock = options.get("mock_response")
    url = target.api_base + adapter.EMBEDDINGS_PATH
    requests = ([] if mock is not None else
                [Request("POST", url, target.headers, encode_body(body), target.ssl_verify)
                 for body in bodies])
    call = Call(target.spec.name, model_id, adapter, info, params, False, target.timeout,
                target.policy, mock, None, target.secrets)
    return call, requests
