"""What gatewise knows about one model: the record the catalogue hands to adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["chat", "embedding", "fim", "ocr", "moderation", "audio_transcription",
               "audio_speech", "completion"]
ReasoningStyle = Literal["none", "instructed", "native"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Facts about a model, all optional beyond its name.

    ``reasoning`` tells how the model thinks:
    ``"instructed"`` (a system instruction asks for ``<think>`` tags),
    ``"native"`` (``reasoning_effort`` is sent; the answer carries thinking chunks; the
    accepted values are ``reasoning_effort_levels``) or ``"none"``.
    ``tokenizer`` names the Mistral tokenizer the model uses, as ``mistral-common`` knows it
    (``"v1"``, ``"v2"``, ``"v3"``, ``"v3-tekken"``, ``"v7"``, ``"v7-mm"``: bundled with it;
    ``"tekken"``: a newer Tekken not bundled, counted with ``"v3-tekken"`` as a stand-in),
    or None when unknown (token counts are then estimated).
    ``known`` is False for a model the catalogue has no entry for: such a model is still
    called as given, with these conservative defaults.
    """

    provider: str
    model: str
    canonical: str | None = None
    mode: Mode = "chat"
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    ocr_cost_per_page: float | None = None
    supports_function_calling: bool = False
    supports_vision: bool = False
    supports_response_schema: bool = False
    supports_assistant_prefill: bool = False
    supports_fim: bool = False
    reasoning: ReasoningStyle = "none"
    reasoning_effort_levels: tuple[str, ...] = ()
    embedding_dimensions: int | None = None
    max_embedding_dimensions: int | None = None
    supports_output_dimension: bool = False
    aliases: tuple[str, ...] = field(default=())
    deprecation_date: str | None = None
    tokenizer: str | None = None
    known: bool = True

    @property
    def key(self) -> str:
        """``provider/model``, the form users write."""
        return f"{self.provider}/{self.model}"
