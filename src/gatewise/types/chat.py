"""Chat completion responses and stream chunks, shaped like OpenAI's."""

from __future__ import annotations

from typing import Any

from gatewise.types._base import Costed, OpenAIObject


class Function(OpenAIObject):
    name: str
    arguments: str
    """The arguments as a JSON string, as OpenAI returns them."""


class ToolCall(OpenAIObject):
    id: str
    type: str = "function"
    function: Function


class PromptTokensDetails(OpenAIObject):
    cached_tokens: int = 0


class Usage(OpenAIObject):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None


class Message(OpenAIObject):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None


class Choice(OpenAIObject):
    index: int = 0
    message: Message
    finish_reason: str | None = None


class ModelResponse(Costed):
    """A chat completion: ``response.choices[0].message.content``."""

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class ChunkFunction(OpenAIObject):
    name: str | None = None
    arguments: str | None = None


class ChunkToolCall(OpenAIObject):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: ChunkFunction | None = None


class Delta(OpenAIObject):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ChunkToolCall] | None = None
    reasoning_content: str | None = None


class ChunkChoice(OpenAIObject):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ModelResponseChunk(OpenAIObject):
    """One streamed piece: ``chunk.choices[0].delta.content``; ``usage`` on the last one."""

    id: str
    object: str = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


def response_from_dict(data: dict[str, Any]) -> ModelResponse:
    return ModelResponse.model_validate(data)


def chunk_from_dict(data: dict[str, Any]) -> ModelResponseChunk:
    return ModelResponseChunk.model_validate(data)
