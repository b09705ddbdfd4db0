"""The Mistral adapter: pure translation between OpenAI's shapes and Mistral's wire format.

Dicts in, dicts out; no I/O.  See ``gatewise.providers.base.Adapter`` for the contract.
"""

from gatewise.providers.mistral.chat import CHAT_PATH, build_chat_body
from gatewise.providers.mistral.embeddings import (
    EMBEDDINGS_PATH,
    build_embedding_body,
    merge_embedding_responses,
    parse_embedding_answer,
    parse_embedding_response,
    split_embedding_inputs,
)
from gatewise.providers.mistral.errors import error_for
from gatewise.providers.mistral.response import parse_chat_response
from gatewise.providers.mistral.stream import stream_translator

__all__ = [
    "CHAT_PATH",
    "EMBEDDINGS_PATH",
    "build_chat_body",
    "build_embedding_body",
    "error_for",
    "merge_embedding_responses",
    "parse_chat_response",
    "parse_embedding_answer",
    "parse_embedding_response",
    "split_embedding_inputs",
    "stream_translator",
]
