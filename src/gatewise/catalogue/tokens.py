"""Counting prompt tokens before a call, and the context-window check built on it.

Two ways to count:

* **With Mistral's tokenizer** when the optional ``mistral-common`` package is installed
  (``pip install gatewise[tokenizer]``).  Only the tokenizers bundled in its wheel are used
  -- nothing is ever downloaded.  The model's tokenizer comes from the catalogue
  (``ModelInfo.tokenizer``).  The count is *exact* when that tokenizer is bundled (Nemo,
  Mixtral, Large 2407, Codestral Mamba, ...) and the messages are text only; the current
  models use newer Tekken versions that are not bundled, so they are counted with the
  bundled Tekken v3 (same 131k BPE family; control tokens differ by a few per message).
* **An estimate** otherwise (no ``mistral-common``, a model whose tokenizer is unknown).

The estimate, and how close it is: text is ``ASCII chars / 4 + CJK chars / 1.5 + other
chars / 3``, rounded up, plus 2 tokens per message (the ``[INST]``/``[/INST]``-style control
tokens) and 1 for the template; tool definitions and tool calls are counted as their JSON
text plus 2; each image or other media part counts :data:`MEDIA_TOKENS`.  Measured against
Tekken on the reference sample (mistral-api.md §13: a system and a user message, 20 tokens
with the v3 template, 22 with v7+) it gives 25; in general expect English prose within
about +-15% (it leans high on short prose), code and JSON 10-25% low, CJK text within about
+-30%, and images anywhere between 10x low and 4x high (a real image costs ~100 to ~4,000
tokens depending on its size).  Hence :func:`fits_context` refuses an estimated prompt only
when it *clearly* cannot fit.
"""

from __future__ import annotations

import importlib
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from gatewise.catalogue._catalogue import Catalogue, default_catalogue
from gatewise.catalogue._model_info import ModelInfo

__all__ = [
    "ESTIMATE_MARGIN",
    "MEDIA_TOKENS",
    "TokenCount",
    "TokenizerCache",
    "count_tokens",
    "estimate_prompt_tokens",
    "fits_context",
    "token_counter",
]

#: Tokens counted for one image (or audio/document part) in an estimate.
MEDIA_TOKENS = 1000
#: How far an estimate may be off, as a fraction; :func:`fits_context` allows for it.
ESTIMATE_MARGIN = 0.15
#: Control tokens around each message, and once for the whole template (BOS).
MESSAGE_OVERHEAD = 2
TEMPLATE_OVERHEAD = 1


#: ``ModelInfo.tokenizer`` -> (MistralTokenizer factory, keyword arguments), bundled ones.
_BUNDLED: Mapping[str, tuple[str, Mapping[str, bool]]] = {
    "v1": ("v1", {}),
    "v2": ("v2", {}),
    "v3": ("v3", {}),
    "v3-tekken": ("v3", {"is_tekken": True}),
    "v7": ("v7", {}),
    "v7-mm": ("v7", {"is_mm": True}),
}
#: Tokenizers not bundled -> the bundled one that counts nearly the same.
_STAND_INS: Mapping[str, str] = {"tekken": "v3-tekken"}

_TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal"})


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A prompt's size: ``exact`` when counted with the model's own tokenizer and template."""

    tokens: int
    exact: bool = False

    def __int__(self) -> int:
        return self.tokens


class TokenizerCache:
    """``mistral-common`` tokenizers by kind, loaded once each (~0.5 s for Tekken).

    A kind that cannot be loaded (package or ``sentencepiece`` missing, unknown kind) is
    remembered as None, so the failure costs one attempt.
    """

    __slots__ = ("_loaded", "_lock")

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, kind: str) -> Any:
        """The loaded ``MistralTokenizer`` for ``kind``, or None."""
        if kind in self._loaded:
            return self._loaded[kind]
        with self._lock:
            if kind not in self._loaded:
                self._loaded[kind] = _load_tokenizer(kind)
            return self._loaded[kind]


@cache
def _wide_chars() -> re.Pattern[str]:
    """CJK, kana and Hangul: about one token per 1-2 characters."""
    return re.compile("[\u1100-\u11ff\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff"
                      "\uff00-\uffef\U00020000-\U0003ffff]")


@cache
def _default_tokenizers() -> TokenizerCache:
    # Process-wide memo of immutable, expensive-to-load tokenizers (nothing configurable).
    return TokenizerCache()


def _load_tokenizer(kind: str) -> Any:
    spec = _BUNDLED.get(kind)
    if spec is None:
        return None
    try:
        errors = _mistral_common("exceptions").MistralCommonException
        tokenizer_class = _mistral_common("tokens.tokenizers.mistral").MistralTokenizer
    except ImportError:
        return None
    factory, kwargs = spec
    try:
        return getattr(tokenizer_class, factory)(**kwargs)
    except (ImportError, OSError, ValueError, AssertionError, errors):
        return None  # e.g. SentencePiece kinds without the `sentencepiece` package


def _mistral_common(module: str) -> Any:
    """A ``mistral_common`` submodule (optional dependency, imported on first use)."""
    return importlib.import_module(f"mistral_common.{module}")


def count_tokens(*, model: str, messages: list[dict[str, Any]] | None = None,
                 text: str | None = None, tools: list[dict[str, Any]] | None = None,
                 catalogue: Catalogue | None = None,
                 tokenizers: TokenizerCache | None = None) -> TokenCount:
    """Count the tokens of ``messages`` (OpenAI-shaped chat messages, with ``tools``) and/or
    ``text`` (plain text, no template) for ``model`` (``"provider/model"``).

    See the module docstring for when the count is exact and how close an estimate is.
    """
    info = (catalogue if catalogue is not None else default_catalogue()).get(model)
    kind = info.tokenizer
    bundled = kind if kind in _BUNDLED else _STAND_INS.get(kind or "")
    tokenizer = None
    if bundled is not None:
        tokenizer = (tokenizers if tokenizers is not None else _default_tokenizers()).get(
            bundled)
    if tokenizer is None:
        return TokenCount(_count(messages, text, tools, _estimate))
    exact = bundled == kind
    measure = _tokenizer_measure(tokenizer)
    if messages is not None and exact and not _has_media(messages):
        chat = _encode_chat(tokenizer, messages, tools)
        if chat is not None:
            return TokenCount(chat + (math.ceil(measure(text)) if text else 0), exact=True)
    exact = exact and messages is None and tools is None
    return TokenCount(_count(messages, text, tools, measure), exact=exact)


def estimate_prompt_tokens(messages: list[dict[str, Any]],
                           tools: list[dict[str, Any]] | None = None) -> int:
    """The cheap estimate alone (no tokenizer), for checks on every call's hot path."""
    return _count(messages, None, tools, _estimate)


def token_counter(*, model: str, messages: list[dict[str, Any]] | None = None,
                  text: str | None = None, tools: list[dict[str, Any]] | None = None,
                  catalogue: Catalogue | None = None) -> int:
    """The number of prompt tokens (see :func:`count_tokens`, which also says if exact)."""
    return count_tokens(model=model, messages=messages, text=text, tools=tools,
                        catalogue=catalogue).tokens


def fits_context(info: ModelInfo, prompt_tokens: int | TokenCount,
                 max_tokens: int | None = None, *, exact: bool | None = None) -> bool:
    """False only when the prompt plus ``max_tokens`` *clearly* cannot fit ``info``'s
    context window: an estimate may be :data:`ESTIMATE_MARGIN` too high, so it is refused
    only if ``prompt * (1 - margin) + max_tokens`` is over the window; an exact count
    (a ``TokenCount`` with ``exact``, or ``exact=True``) is compared as is.  True when the
    window is unknown.
    """
    window = info.max_input_tokens
    if window is None:
        return True
    if isinstance(prompt_tokens, TokenCount):
        tokens, is_exact = prompt_tokens.tokens, prompt_tokens.exact
    else:
        tokens, is_exact = prompt_tokens, False
    if exact is not None:
        is_exact = exact
    least = tokens if is_exact else tokens * (1.0 - ESTIMATE_MARGIN)
    return least + (max_tokens or 0) <= window


# -- counting -------------------------------------------------------------------------------

Measure = Callable[[str], float]


def _estimate(text: str) -> float:
    if text.isascii():
        return len(text) / 4
    ascii_chars = len(text.encode("ascii", "ignore"))
    wide = len(_wide_chars().findall(text))
    return ascii_chars / 4 + wide / 1.5 + (len(text) - ascii_chars - wide) / 3


def _tokenizer_measure(tokenizer: Any) -> Measure:
    raw = tokenizer.instruct_tokenizer.tokenizer

    def measure(text: str) -> float:
        return float(len(raw.encode(text, bos=False, eos=False)))

    return measure


def _encode_chat(tokenizer: Any, messages: list[dict[str, Any]],
                 tools: list[dict[str, Any]] | None) -> int | None:
    """The exact count through ``mistral-common``'s own template, or None if it refuses
    these messages (its validator is stricter than the API about message order)."""
    try:
        errors = _mistral_common("exceptions").MistralCommonException
        request_class = _mistral_common("protocol.instruct.request").ChatCompletionRequest
    except ImportError:
        return None
    try:
        request = request_class.from_openai(messages, tools=tools)
        return len(tokenizer.encode_chat_completion(request).tokens)
    except (AttributeError, KeyError, TypeError, ValueError, errors):
        return None


def _count(messages: list[dict[str, Any]] | None, text: str | None,
           tools: list[dict[str, Any]] | None, measure: Measure) -> int:
    total = 0
    if text:
        total += math.ceil(measure(text))
    if messages is not None:
        total += TEMPLATE_OVERHEAD + sum(_message_tokens(m, measure) for m in messages)
    if tools:
        total += MESSAGE_OVERHEAD + math.ceil(measure(_json(tools)))
    return total


def _message_tokens(message: Mapping[str, Any], measure: Measure) -> int:
    size = 0.0
    media = 0
    for part in _parts(message.get("content")):
        if isinstance(part, str):
            size += measure(part)
        else:
            media += 1
    for key in ("name", "reasoning_content"):
        value = message.get(key)
        if isinstance(value, str) and value:
            size += measure(value)
    tool_calls = message.get("tool_calls")
    for call in tool_calls if isinstance(tool_calls, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            size += MESSAGE_OVERHEAD + measure(str(function.get("name") or ""))
            size += measure(_as_text(function.get("arguments")))
    return MESSAGE_OVERHEAD + math.ceil(size) + media * MEDIA_TOKENS


def _parts(content: Any) -> Iterator[str | None]:
    """Text pieces of a message's content; None for each media part."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                yield part
            elif isinstance(part, Mapping):
                kind = part.get("type")
                if kind in _TEXT_PARTS:
                    text = part.get(kind, part.get("text"))
                    yield text if isinstance(text, str) else ""
                elif kind == "thinking":  # Mistral's thinking chunk: a list of text chunks
                    yield from _parts(part.get("thinking"))
                elif kind is not None:
                    yield None


def _has_media(messages: list[dict[str, Any]]) -> bool:
    return any(part is None for m in messages for part in _parts(m.get("content")))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _json(value)


def _json(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:  # e.g. an int over 64 bits: counting must not fail on it
        return str(value)
