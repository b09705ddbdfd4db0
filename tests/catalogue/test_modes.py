"""Which kinds of call a model serves: its mode, plus what its facts add."""

from __future__ import annotations

from gatewise.catalogue import Catalogue, ModelInfo, default_catalogue
from gatewise.catalogue.modes import served_modes


def modes(model: str, **stated: object) -> frozenset[str] | None:
    return served_modes(default_catalogue().get(model), stated)


def test_a_model_serves_its_mode_and_what_its_facts_add() -> None:
    assert modes("mistral/mistral-small-latest") == {"chat"}
    assert modes("mistral/codestral-latest") == {"chat", "fim"}  # supports_fim: data
    assert modes("mistral/mistral-code-fim-latest") == {"chat", "fim"}
    assert modes("mistral/mistral-embed") == {"embedding"}
    assert modes("mistral/mistral-moderation-latest") == {"moderation", "classification"}
    assert modes("mistral/mistral-ocr-latest") == {"ocr"}
    assert modes("mistral/voxtral-mini-latest") == {"audio_transcription"}


def test_a_config_entry_may_say_otherwise() -> None:
    assert modes("mistral/mistral-small-latest", mode="embedding") == {"embedding"}
    assert modes("mistral/codestral-latest", supports_fim=False) == {"chat"}
    assert modes("mistral/ft:my-codestral", mode="chat", supports_fim=True) == {"chat", "fim"}
    assert modes("mistral/my-completer", mode="completion") == {"completion", "fim"}


def test_nothing_known_lets_every_call_through() -> None:
    assert modes("mistral/ft:open-mistral-7b:abc") is None
    assert served_modes(ModelInfo(provider="mistral", model="x", known=False)) is None
    registered = Catalogue({"mistral/ft:x": {"mode": "moderation"}}).get("mistral/ft:x")
    assert served_modes(registered) == {"moderation", "classification"}
