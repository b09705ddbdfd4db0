"""OpenAI-shaped public types."""

from gatewise.types.audio import (
    TranscriptionResponse,
    TranscriptionSegment,
    TranscriptionStreamEvent,
    TranscriptionUsage,
    TranscriptionWord,
)
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
from gatewise.types.ocr import OCRImage, OCRPage, OCRResponse, OCRUsageInfo

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
    "OCRImage",
    "OCRPage",
    "OCRResponse",
    "OCRUsageInfo",
    "PromptTokensDetails",
    "TextChoice",
    "TextCompletionChunk",
    "TextCompletionResponse",
    "ToolCall",
    "TranscriptionResponse",
    "TranscriptionSegment",
    "TranscriptionStreamEvent",
    "TranscriptionUsage",
    "TranscriptionWord",
    "Usage",
]
