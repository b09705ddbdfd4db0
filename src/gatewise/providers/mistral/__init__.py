"""The Mistral adapter: pure translation between OpenAI's shapes and Mistral's wire format.

Dicts in, dicts out; no I/O.  See ``gatewise.providers.base.Adapter`` for the contract.
"""

from gatewise.providers.mistral.chat import CHAT_PATH, build_chat_body
from gatewise.providers.mistral.embeddings import (
    EMBEDDINGS_PATH,
    build_embedding_body,
    merge_embedding_responses,
    parse_embedding_response,
    split_embedding_inputs,
)
from gatewise.providers.mistral.errors import error_for
from gatewise.providers.mistral.fim import FIM_PATH, build_fim_body, parse_fim_response
from gatewise.providers.mistral.fim_stream import fim_stream_translator
from gatewise.providers.mistral.moderation import moderation_request, parse_moderation_response
from gatewise.providers.mistral.native import (
    NATIVE_PATHS,
    build_native_body,
    native_stream_translator,
)
from gatewise.providers.mistral.response import parse_chat_response
from gatewise.providers.mistral.stream import stream_translator

__all__ = [
    "CHAT_PATH",
    "EMBEDDINGS_PATH",
    "FIM_PATH",
    "NATIVE_PATHS",
    "build_chat_body",
    "build_embedding_body",
    "build_fim_body",
    "build_native_body",
    "error_for",
    "fim_stream_translator",
    "merge_embedding_responses",
    "moderation_request",
    "native_stream_translator",
    "parse_chat_response",
    "parse_embedding_response",
    "parse_fim_response",
    "parse_moderation_response",
    "split_embedding_inputs",
    "stream_translator",
]
