"""What the fake knows about each model: the ids of mistral-models.md plus a few embed ids.

Only the facts the fake acts on: which endpoint a model serves, how it reasons, which
``reasoning_effort`` values it takes, its embedding sizes, and what ``/v1/models`` shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["chat", "embedding", "moderation", "ocr", "audio_transcription", "audio_speech"]
Reasoning = Literal["none", "instructed", "native"]


@dataclass(frozen=True)
class ModelFacts:
    id: str
    mode: Mode
    context: int | None = None
    tools: bool = False
    vision: bool = False
    fim: bool = False
    reasoning: Reasoning = "none"
    # ``reasoning_effort`` values the model accepts (none for models without native reasoning).
    efforts: tuple[str, ...] = ()
    # Native models that think even without ``reasoning_effort`` (magistral-*-latest).
    thinks_by_default: bool = False
    # Embeddings: default vector size, and the largest ``output_dimension`` (None: fixed size).
    dimensions: int | None = None
    max_dimensions: int | None = None

    @property
    def has_reasoning_prompt(self) -> bool:
        """Magistral models: ``prompt_mode`` is allowed."""
        return self.reasoning == "instructed" or self.thinks_by_default


def _chat(model_id: str, context: int, features: str = "", efforts: str = "") -> ModelFacts:
    """A chat model; ``features`` is a subset of "tools vision fim think-tags always-think"."""
    flags = set(features.split())
    levels = tuple(efforts.split("/")) if efforts else ()
    reasoning: Reasoning = "instructed" if "think-tags" in flags else "native" if levels else "none"
    return ModelFacts(
        model_id,
        "chat",
        context,
        tools="tools" in flags,
        vision="vision" in flags,
        fim="fim" in flags,
        reasoning=reasoning,
        efforts=levels,
        thinks_by_default="always-think" in flags,
    )


def _other(model_id: str, mode: Mode, context: int | None = None) -> ModelFacts:
    return ModelFacts(model_id, mode, context)


def _embed(model_id: str, dimensions: int, max_dimensions: int | None = None) -> ModelFacts:
    return ModelFacts(
        model_id, "embedding", 8192, dimensions=dimensions, max_dimensions=max_dimensions
    )


_ALL = [
    # Retired or older dated models.
    _chat("mistral-large-2407", 128000, "tools"),
    _chat("magistral-small-2506", 40000, "tools think-tags"),
    _chat("magistral-medium-2506", 40000, "tools think-tags"),
    _chat("open-mistral-7b", 32000),
    _chat("open-mixtral-8x7b", 32000, "tools"),
    _chat("open-mixtral-8x22b", 65336, "tools"),
    _chat("open-mistral-nemo-2407", 128000),
    _chat("open-codestral-mamba", 256000),
    # Current price map (2026).
    _chat("codestral-2405", 32000, "fim"),
    _chat("codestral-2508", 128000, "tools fim"),
    _chat("codestral-latest", 128000, "tools fim"),
    _chat("codestral-mamba-latest", 256000),
    _chat("devstral-latest", 256000, "tools"),
    _chat("devstral-medium-latest", 256000, "tools"),
    _chat("devstral-small-latest", 256000, "tools"),
    _chat("glm-5-2", 1048576, "tools", "none/minimal/low/medium/high/xhigh/max"),
    _chat("labs-leanstral-1-5", 262144, "tools"),
    _chat("labs-leanstral-1-5-1", 262144, "tools"),
    _chat("magistral-medium-latest", 262144, "tools vision always-think", "none/high"),
    _chat("magistral-small-latest", 262144, "tools vision always-think", "none/high"),
    _chat("ministral-14b-2512", 262144, "tools vision"),
    _chat("ministral-14b-latest", 262144, "tools vision"),
    _chat("ministral-3-14b-2512", 262144, "tools vision"),
    _chat("ministral-3-3b-2512", 131072, "tools vision"),
    _chat("ministral-3-8b-2512", 262144, "tools vision"),
    _chat("ministral-3b-2512", 131072, "tools vision"),
    _chat("ministral-3b-latest", 131072, "tools vision"),
    _chat("ministral-8b-2512", 262144, "tools vision"),
    _chat("ministral-8b-latest", 262144, "tools vision"),
    _chat("mistral-code-agent-latest", 256000, "tools"),
    _chat("mistral-code-fim-latest", 128000, "tools fim"),
    _chat("mistral-code-latest", 128000, "tools"),
    _chat("mistral-large-2512", 262144, "tools vision"),
    _chat("mistral-large-3", 262144, "tools vision"),
    _chat("mistral-large-4", 1048576, "tools vision", "none/high"),
    _chat("mistral-large-4-0", 1048576, "tools vision", "none/high"),
    _chat("mistral-large-latest", 262144, "tools vision"),
    _chat("mistral-medium", 262144, "tools vision", "none/high"),
    _chat("mistral-medium-2604", 262144, "tools vision", "none/high"),
    _chat("mistral-medium-3", 262144, "tools vision", "none/high"),
    _chat("mistral-medium-3-5", 262144, "tools vision", "none/high"),
    _chat("mistral-medium-3.5", 262144, "tools vision", "none/high"),
    _chat("mistral-medium-latest", 262144, "tools vision", "none/high"),
    _chat("mistral-small", 32000, "tools"),
    _chat("mistral-small-2603", 262144, "tools vision", "none/high"),
    _chat("mistral-small-latest", 262144, "tools vision", "none/high"),
    _chat("mistral-tiny", 32000),
    _chat("mistral-vibe-cli-fast", 262144, "tools vision", "none/high"),
    _chat("mistral-vibe-cli-latest", 262144, "tools vision", "none/high"),
    _chat("mistral-vibe-cli-with-tools", 262144, "tools vision", "none/high"),
    _chat("open-mistral-nemo", 128000),
    _chat("pixtral-large-latest", 128000, "tools vision"),
    _chat("voxtral-small-2507", 32768, "tools"),
    _chat("voxtral-small-latest", 32768, "tools"),
    _chat("zai-glm-5", 1048576, "tools", "low/high/max"),
    _chat("zai-glm-5-2", 1048576, "tools", "none/minimal/low/medium/high/xhigh/max"),
    _chat("zai-glm-5-3", 1048576, "tools", "low/high/max"),
    _chat("zai-glm-latest", 1048576, "tools", "low/high/max"),
    _embed("codestral-embed", 1536, 3072),
    _embed("codestral-embed-2505", 1536, 3072),
    _embed("mistral-embed", 1024),
    _embed("mistral-embed-2312", 1024),
    _other("mistral-moderation-2603", "moderation", 131072),
    _other("mistral-moderation-latest", "moderation", 131072),
    *(_other(f"mistral-ocr-{v}", "ocr") for v in ("2512", "3", "3-0", "4", "4-0", "4-1", "latest")),
    *(
        _other(f"voxtral-mini-{v}", "audio_transcription")
        for v in ("2602", "latest", "realtime-2602", "realtime-latest")
    ),
    _other("voxtral-mini-transcribe-realtime-2602", "audio_transcription"),
    _other("voxtral-mini-transcribe-realtime-latest", "audio_transcription"),
    _other("voxtral-mini-tts-2603", "audio_speech"),
    _other("voxtral-mini-tts-latest", "audio_speech"),
]

MODELS: dict[str, ModelFacts] = {facts.id: facts for facts in _ALL}


def model_card(facts: ModelFacts) -> dict[str, Any]:
    """The ``/v1/models`` entry (§9 shape); ``created`` is the request time, as live."""
    chat = facts.mode == "chat"
    return {
        "id": facts.id,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "mistralai",
        "capabilities": {
            "completion_chat": chat,
            "function_calling": facts.tools,
            "completion_fim": facts.fim,
            "fine_tuning": False,
            "vision": facts.vision,
            "ocr": facts.mode == "ocr",
            "classification": facts.mode == "moderation",
            "moderation": facts.mode == "moderation",
            "audio": facts.mode.startswith("audio"),
            "reasoning": facts.reasoning != "none",
        },
        "name": facts.id,
        "description": f"{facts.id} (fake Mistral server)",
        "max_context_length": facts.context,
        "aliases": [],
        "deprecation": None,
        "deprecation_replacement_model": None,
        "default_model_temperature": 0.3 if chat else None,
        "type": "base",
    }
