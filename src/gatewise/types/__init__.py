"""OpenAI-shaped public types."""

from gatewise.types.chat import (
    Choice,
    ChunkChoice,
    ChunkFunction,
    ChunkToolCall,
    Delta,
    Function,
    Message,
    ModelResponse,
    ModelResponseChunk,
    PromptTokensDetails,
    ToolCall,
    Usage,
)
from gatewise.types.completions import TextChoice, TextCompletionChunk, TextCompletionResponse
from gatewise.types.embeddings import Embedding, EmbeddingResponse, EmbeddingUsage
from gatewise.types.moderations import ModerationResponse, ModerationResult

__all__ = [
    "Choice",
    "ChunkChoice",
    "ChunkFunction",
    "ChunkToolCall",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "Function",
    "Message",
    "ModelResponse",
    "ModelResponseChunk",
    "ModerationResponse",
    "ModerationResult",
    "PromptTokensDetails",
    "TextChoice",
    "TextCompletionChunk",
    "TextCompletionResponse",
    "ToolCall",
    "Usage",
]
