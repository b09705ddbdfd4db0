"""Extract the request schemas the fake validates from Mistral's official OpenAPI spec.

Run by hand after updating the spec:

    python tests/fake_mistral/extract_schema.py [path/to/mistral-openapi.yaml]

Writes ``openapi_subset.json`` next to this file: every schema of ``components.schemas``
reachable (following ``$ref`` transitively) from the root request schemas below, so the
tests need neither the 1 MB YAML nor pyyaml at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = (
    "ChatCompletionRequest", "EmbeddingRequest", "FIMCompletionRequest",
    "ClassificationRequest", "ChatModerationRequest", "ChatClassificationRequest",
    "OCRRequest", "AudioTranscriptionRequest", "AudioTranscriptionRequestStream",
    # answers, for the fake to build (and the tests to check) schema-true responses
    "FIMCompletionResponse", "ModerationResponse", "ClassificationResponse", "OCRResponse",
    "TranscriptionResponse", "TranscriptionStreamEvents",
    # the platform endpoints the /mistral/* pass-through tests reach
    "AgentsCompletionRequest", "CreateBatchJobRequest", "BatchJob", "CreateFileResponse",
    "ListFilesResponse",
)
REF_PREFIX = "#/components/schemas/"
DEFAULT_SPEC = Path(__file__).parents[3] / "shared" / "reference" / "mistral-openapi.yaml"
OUTPUT = Path(__file__).with_name("openapi_subset.json")


def _refs(node: Any) -> set[str]:
    """Names of all schemas referenced anywhere inside ``node``."""
    if isinstance(node, dict):
        found = {v.removeprefix(REF_PREFIX) for k, v in node.items() if k == "$ref"}
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def reachable(schemas: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """The schemas reachable from ``roots``, sorted by name (property order is kept)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(schemas[name]) - seen)
    return {name: schemas[name] for name in sorted(seen)}


def main(argv: list[str]) -> None:
    import yaml  # only this script needs pyyaml; the tests import ``reachable``

    spec_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    subset = reachable(spec["components"]["schemas"], ROOTS)
    OUTPUT.write_text(json.dumps(subset, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(subset)} schemas to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv)
