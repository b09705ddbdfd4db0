"""A strict local fake of the Mistral API, for tests (see ``server.FakeMistral``)."""

from .behaviors import BadEvent, Behavior, CutStream, Delay, Garbage, Normal, StallStream, Status
from .models import MODELS, ModelFacts
from .semantics import semantic_error
from .server import FakeMistral, RecordedRequest
from .validator import validate_body

__all__ = [
    "MODELS",
    "BadEvent",
    "Behavior",
    "CutStream",
    "Delay",
    "FakeMistral",
    "Garbage",
    "ModelFacts",
    "Normal",
    "RecordedRequest",
    "StallStream",
    "Status",
    "semantic_error",
    "validate_body",
]
