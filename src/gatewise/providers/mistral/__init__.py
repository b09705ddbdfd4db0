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
from gatewise.providers.mistral.fim import FIM_PATH, build_fim_body, parse_fim_response
from gatewise.providers.mistral.fim_stream import fim_stream_translator
from gatewise.providers.mistral.moderation import moderation_request, parse_moderation_response
from gatewise.providers.mistral.native import (
    NATIVE_PATHS,
    build_native_body,
    native_stream_translator,
)
from gatewise.providers.mistral.ocr import OCR_PATH, build_ocr_body, parse_ocr_response
from gatewise.providers.mistral.params import HANDLED, NOISE, PASSTHROUGH
from gatewise.providers.mistral.response import parse_chat_response
from gatewise.providers.mistral.stream import stream_translator
from gatewise.providers.mistral.transcription import (
    TRANSCRIPTIONS_PATH,
    build_transcription_form,
    parse_transcription_response,
)
from gatewise.providers.mistral.transcription_stream import transcription_translator

# Every parameter name the adapter takes, for chat or embeddings (the embeddings' own are
# encoding_format, output_dtype, output_dimension and dimensions).
PARAMETERS = PASSTHROUGH | NOISE | HANDLED | frozenset({
    "encoding_format", "output_dtype", "output_dimension", "dimensions"})

__all__ = [
    "CHAT_PATH",
    "EMBEDDINGS_PATH",
    "FIM_PATH",
    "NATIVE_PATHS",
    "OCR_PATH",
    "PARAMETERS",
    "TRANSCRIPTIONS_PATH",
    "build_chat_body",
    "build_embedding_body",
    "build_fim_body",
    "build_native_body",
    "build_ocr_body",
    "build_transcription_form",
    "error_for",
    "fim_stream_translator",
    "merge_embedding_responses",
    "moderation_request",
    "native_stream_translator",
    "parse_chat_response",
    "parse_embedding_answer",
    "parse_embedding_response",
    "parse_fim_response",
    "parse_moderation_response",
    "parse_ocr_response",
    "parse_transcription_response",
    "split_embedding_inputs",
    "stream_translator",
    "transcription_translator",
]
