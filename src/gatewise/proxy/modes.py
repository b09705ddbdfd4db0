"""Which route serves which kind of model, and the 400 for a model sent to the wrong one.

Every model route declares the mode it serves (``state.check_served(name, mode=...)``);
a deployment serves the modes :func:`gatewise.catalogue.modes.served_modes` gives it (its
``mode`` from the catalogue or ``model_info.mode``, plus what its facts add: FIM for a
chat model with ``supports_fim``, classification for a moderation model).  A model group
serves what all its deployments serve, so the router may pick any of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from gatewise.proxy.errors import ProxyError, bad_request

MODE_MISMATCH = "model_mode_mismatch"

#: Each mode's routes, as a client would write them.
ROUTES: dict[str, str] = {
    "chat": "POST /v1/chat/completions",
    "embedding": "POST /v1/embeddings",
    "fim": "POST /v1/completions (or Mistral's POST /v1/fim/completions)",
    "moderation": "POST /v1/moderations (or Mistral's POST /v1/chat/moderations)",
    "classification": "Mistral's POST /v1/classifications and /v1/chat/classifications",
    "ocr": "POST /v1/ocr",
    "audio_transcription": "POST /v1/audio/transcriptions",
}
_WHAT = {
    "chat": "chat completions",
    "embedding": "embeddings",
    "fim": "code completions (fill-in-the-middle)",
    "moderation": "moderations",
    "classification": "classifications",
    "ocr": "OCR",
    "audio_transcription": "audio transcriptions",
}


def group_modes(deployments: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """What every deployment of a group serves; None when none of them is known."""
    known = [modes for modes in deployments if modes is not None]
    if not known:
        return None
    return frozenset.intersection(*known)


def mode_mismatch(name: str, mode: str, modes: frozenset[str], wanted: str) -> ProxyError:
    """The answer to a request for ``wanted`` on model ``name`` (of ``mode``, serving
    ``modes``)."""
    fits = [ROUTES[m] for m in sorted(modes) if m in ROUTES]
    where = f"; use {' or '.join(fits)} with it" if fits else ""
    fact = "model_info.supports_fim" if wanted == "fim" else "model_info.mode"
    return bad_request(
        f"model `{name}` (mode: {mode}) does not serve {_WHAT.get(wanted, wanted)}{where} "
        f"(if that is wrong, set {fact} on its entry in the proxy's config)",
        param="model", code=MODE_MISMATCH)
