#!/usr/bin/env python3
"""Refresh ``src/gatewise/catalogue/models.json`` from Mistral's ``GET /v1/models``.

A maintainer's tool, never run by the package (the catalogue is never fetched at run time)::

    MISTRAL_API_KEY=... python scripts/refresh_catalogue.py            # fetch, merge, write
    python scripts/refresh_catalogue.py --from-file recorded.json      # merge a saved answer
    python scripts/refresh_catalogue.py --dry-run                      # print the diff only

What the API is trusted on (it is the live truth about these): the context length
(``max_context_length`` -> ``max_input_tokens``), which name an alias points at (``name`` ->
``canonical``), the capabilities it reports (function calling, vision, FIM, reasoning) and
deprecation dates.  Everything else -- prices (the API has none), output limits, modes,
reasoning levels, embedding sizes, tokenizers -- stays as curated in the file.  A card the
file does not know becomes a new entry; if it is an alias of a known model it starts from that
model's facts (prices included), else it gets the facts the card gives and no prices.
Entries the API no longer lists are kept: retired models still price old logs.  Fine-tuned
(``type != "base"``) and ``internal`` cards are skipped.

:func:`merge_models` is pure (documents in, document out) so tests can run it on a recorded
answer; :func:`dump_catalogue` is the one writer of the file's format.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import difflib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

CATALOGUE_PATH = Path(__file__).resolve().parents[1] / "src/gatewise/catalogue/models.json"
DEFAULT_API_BASE = "https://api.mistral.ai/v1"

#: The order fields are written in; unknown fields follow, sorted.
FIELD_ORDER = (
    "id", "provider", "canonical", "mode",
    "max_input_tokens", "max_output_tokens",
    "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
    "ocr_cost_per_page",
    "supports_function_calling", "supports_vision", "supports_response_schema",
    "supports_assistant_prefill", "supports_fim",
    "reasoning", "reasoning_effort_levels",
    "embedding_dimensions", "max_embedding_dimensions", "supports_output_dimension",
    "tokenizer", "deprecation_date", "source",
)

#: Card capability -> catalogue flag, for flags the API is trusted on.
CAPABILITY_FLAGS = {
    "function_calling": "supports_function_calling",
    "vision": "supports_vision",
    "completion_fim": "supports_fim",
}

#: Card capability -> mode, first match wins; used only for cards the file does not know.
MODE_BY_CAPABILITY = (
    ("completion_chat", "chat"),
    ("ocr", "ocr"),
    ("moderation", "moderation"),
    ("classification", "moderation"),
    ("audio_speech", "audio_speech"),
    ("audio_transcription", "audio_transcription"),
    ("audio_transcription_realtime", "audio_transcription"),
)

#: Facts a new alias does not copy from the model it points at.
_NOT_COPIED = frozenset({"id", "canonical", "source"})


def _is_default(key: str, value: Any) -> bool:
    return value is None or value is False or value == [] or (key == "reasoning"
                                                              and value == "none")


def _ordered(entry: Mapping[str, Any]) -> dict[str, Any]:
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    keys = sorted(entry, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: entry[k] for k in keys if not _is_default(k, entry[k])}


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return orjson.dumps(value).decode()


def dump_catalogue(doc: Mapping[str, Any]) -> str:
    """The file's text: ``_meta`` pretty-printed, then one line per model, sorted by id.

    Fields at their default (null, false, empty, reasoning ``"none"``) are left out.
    """
    meta = orjson.dumps(doc.get("_meta", {}), option=orjson.OPT_INDENT_2).decode()
    models = sorted(doc["models"], key=lambda m: (m["id"], m.get("provider", "")))
    lines = []
    for entry in models:
        fields = ", ".join(f"{_value(k)}: {_value(v)}"
                           for k, v in _ordered(entry).items())
        lines.append("    {" + fields + "}")
    return ('{\n  "_meta": ' + meta.replace("\n", "\n  ") + ',\n  "models": [\n'
            + ",\n".join(lines) + "\n  ]\n}\n")


def _live_facts(card: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``ModelCard`` says that the catalogue takes from the API."""
    facts: dict[str, Any] = {}
    length = card.get("max_context_length")
    if isinstance(length, int) and length > 0:
        facts["max_input_tokens"] = length
    name = card.get("name")
    facts["canonical"] = name if isinstance(name, str) and name and name != card["id"] else None
    caps = card.get("capabilities") or {}
    for capability, flag in CAPABILITY_FLAGS.items():
        if isinstance(caps.get(capability), bool):
            facts[flag] = caps[capability]
    deprecation = card.get("deprecation")
    if isinstance(deprecation, str) and deprecation:
        facts["deprecation_date"] = deprecation[:10]
    return facts


def _mode_for(card: Mapping[str, Any]) -> str:
    caps = card.get("capabilities") or {}
    for capability, mode in MODE_BY_CAPABILITY:
        if caps.get(capability) is True:
            return mode
    # Embedding models report no capability at all.
    return "embedding" if "embed" in card["id"] else "chat"


def _apply(entry: dict[str, Any], card: Mapping[str, Any]) -> None:
    for key, value in _live_facts(card).items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    caps = card.get("capabilities") or {}
    # A bool cannot say *how* a model reasons: only flag models we thought did not.
    if caps.get("reasoning") is True and entry.get("reasoning", "none") == "none":
        entry["reasoning"] = "native"


def merge_models(doc: Mapping[str, Any], response: Mapping[str, Any], *,
                 provider: str = "mistral", today: str | None = None) -> dict[str, Any]:
    """``doc`` (the parsed models.json) updated with a ``GET /v1/models`` answer; a new
    document, the inputs are not changed.  See the module docstring for the rules."""
    cards = response.get("data")
    if not isinstance(cards, list):
        raise ValueError("not a GET /v1/models answer: no `data` list")
    today = today or datetime.date.today().isoformat()
    merged: dict[str, Any] = copy.deepcopy(dict(doc))
    entries: dict[str, dict[str, Any]] = {
        m["id"]: m for m in merged["models"] if m.get("provider") == provider}
    live = [c for c in cards if isinstance(c, Mapping) and isinstance(c.get("id"), str)
            and c.get("type", "base") == "base" and not c.get("internal")]
    for card in live:
        entry = entries.get(card["id"])
        if entry is None:
            entry = _new_entry(card, entries, provider, today)
            entries[card["id"]] = entry
            merged["models"].append(entry)
        _apply(entry, card)
    merged["models"] = sorted(merged["models"], key=lambda m: (m["id"], m.get("provider", "")))
    meta = dict(merged.get("_meta", {}))
    meta["refreshed"] = {"date": today, "from": "GET /v1/models", "cards": len(live)}
    merged["_meta"] = meta
    return merged


def _new_entry(card: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]],
               provider: str, today: str) -> dict[str, Any]:
    name = card.get("name")
    base = entries.get(name) if isinstance(name, str) else None
    if base is not None:
        entry = {k: copy.deepcopy(v) for k, v in base.items() if k not in _NOT_COPIED}
        entry.update(id=card["id"], source=f"GET /v1/models {today}; other facts of {name}")
        return entry
    return {"id": card["id"], "provider": provider, "mode": _mode_for(card),
            "source": f"GET /v1/models {today}; no prices known"}


def fetch_models(api_base: str, api_key: str) -> dict[str, Any]:
    """``GET {api_base}/models`` (the only network call here)."""
    import httpx

    answer = httpx.get(f"{api_base.rstrip('/')}/models", timeout=30.0,
                       headers={"Authorization": f"Bearer {api_key}",
                                "Accept": "application/json"})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--from-file", type=Path, help="a recorded GET /v1/models answer")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE_PATH,
                        help="the models.json to update (default: the packaged one)")
    parser.add_argument("--api-base", default=None,
                        help=f"default: $MISTRAL_API_BASE or {DEFAULT_API_BASE}")
    parser.add_argument("--today", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.from_file is not None:
        response = orjson.loads(args.from_file.read_bytes())
    else:
        api_key = os.environ.get("MISTRAL_API_KEY")
        if not api_key:
            parser.error("set MISTRAL_API_KEY, or pass --from-file")
        base = args.api_base or os.environ.get("MISTRAL_API_BASE") or DEFAULT_API_BASE
        response = fetch_models(base, api_key)

    before = args.catalogue.read_text(encoding="utf-8")
    after = dump_catalogue(merge_models(orjson.loads(before), response, today=args.today))
    diff = list(difflib.unified_diff(before.splitlines(keepends=True),
                                     after.splitlines(keepends=True),
                                     str(args.catalogue), f"{args.catalogue} (refreshed)"))
    if args.dry_run:
        sys.stdout.writelines(diff)
    elif before != after:
        args.catalogue.write_text(after, encoding="utf-8")
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    print(f"{'would change' if args.dry_run else 'changed'} {changed} line(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
