"""scripts/refresh_catalogue.py: merging a GET /v1/models answer into models.json.

``data/models_response.json`` is a *synthesised* recording: cards in the exact shape of
the real 2025-12 card quoted in mistral-api.md §9 (the ``codestral-latest`` card is that
capture, verbatim), filled with the facts the catalogue already has, for the models §9
lists as live.  Two illustrative entries exercise the merge: ``mistral-moderation-2411``
(deprecated in §9; its date ``2026-01-31T12:00:00Z`` is the example format from §9, not a
known date) and a fine-tuned card (must be skipped).  Cards leave out
``max_context_length`` where no source gives one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gatewise.catalogue import Catalogue, _catalogue
from tests.catalogue._script import refresh

RECORDED = Path(__file__).with_name("data") / "models_response.json"
DATA_FILE = Path(_catalogue.__file__).with_name("models.json")
TODAY = "2026-11-24"
PRICES = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
          "ocr_cost_per_page")


@pytest.fixture
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def response() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return loaded


def _by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in doc["models"]}


def _card(response: dict[str, Any], model_id: str) -> dict[str, Any]:
    card: dict[str, Any] = next(c for c in response["data"] if c["id"] == model_id)
    return card


def test_recorded_answer_agrees_with_the_packaged_facts(doc: dict[str, Any],
                                                        response: dict[str, Any]) -> None:
    merged = refresh.merge_models(doc, response, today=TODAY)
    before, after = _by_id(doc), _by_id(merged)
    assert set(after) - set(before) == {"devstral-2512", "mistral-moderation-2411"}
    for model_id, entry in before.items():  # nothing known changes, nothing is dropped
        assert refresh._ordered(after[model_id]) == refresh._ordered(entry), model_id
    assert merged["_meta"]["refreshed"] == {"date": TODAY, "from": "GET /v1/models",
                                            "cards": len(response["data"]) - 1}


def test_new_cards_become_entries_without_prices(doc: dict[str, Any],
                                                 response: dict[str, Any]) -> None:
    after = _by_id(refresh.merge_models(doc, response, today=TODAY))
    moderation = after["mistral-moderation-2411"]
    assert moderation["mode"] == "moderation"
    assert moderation["deprecation_date"] == "2026-01-31"
    assert "max_input_tokens" not in moderation
    assert not any(moderation.get(p) for p in PRICES)
    devstral = after["devstral-2512"]
    assert (devstral["mode"], devstral["max_input_tokens"]) == ("chat", 262144)
    assert devstral["supports_function_calling"] is True
    assert not any(k.startswith("ft:") for k in after)  # fine-tuned cards are skipped


def test_live_facts_win_and_prices_stay(doc: dict[str, Any], response: dict[str, Any]) -> None:
    response = copy.deepcopy(response)
    nemo = _card(response, "open-mistral-nemo")
    nemo["max_context_length"] = 131072
    nemo["capabilities"]["function_calling"] = True
    nemo["deprecation"] = "2026-12-31T00:00:00Z"
    latest = _card(response, "mistral-large-latest")
    latest["name"] = "mistral-large-4-0"
    latest["capabilities"]["reasoning"] = True
    dated = _card(response, "mistral-large-2512")
    dated["name"] = "mistral-large-2512"
    after = _by_id(refresh.merge_models(doc, response, today=TODAY))
    before = _by_id(doc)
    assert after["open-mistral-nemo"]["max_input_tokens"] == 131072
    assert after["open-mistral-nemo"]["supports_function_calling"] is True
    assert after["open-mistral-nemo"]["deprecation_date"] == "2026-12-31"
    assert after["mistral-large-latest"]["canonical"] == "mistral-large-4-0"
    assert after["mistral-large-latest"]["reasoning"] == "native"
    assert "canonical" not in after["mistral-large-2512"]
    for model_id, entry in before.items():
        assert {p: entry.get(p) for p in PRICES} == {p: after[model_id].get(p) for p in PRICES}
        assert entry["mode"] == after[model_id]["mode"]


def test_reasoning_style_is_never_downgraded(doc: dict[str, Any],
                                             response: dict[str, Any]) -> None:
    response = copy.deepcopy(response)
    _card(response, "mistral-small-latest")["capabilities"]["reasoning"] = False
    after = _by_id(refresh.merge_models(doc, response, today=TODAY))
    assert after["mistral-small-latest"]["reasoning"] == "native"


def test_a_new_alias_starts_from_its_models_facts(doc: dict[str, Any],
                                                  response: dict[str, Any]) -> None:
    response = copy.deepcopy(response)
    card = copy.deepcopy(_card(response, "mistral-small-latest"))
    card["id"] = "mistral-small-4"
    response["data"].append(card)
    after = _by_id(refresh.merge_models(doc, response, today=TODAY))
    new, small = after["mistral-small-4"], after["mistral-small-2603"]
    assert new["canonical"] == "mistral-small-2603"
    assert {p: new.get(p) for p in PRICES} == {p: small.get(p) for p in PRICES}
    assert new["reasoning_effort_levels"] == ["none", "high"]
    assert "mistral-small-2603" in new["source"]


def test_merge_is_pure_and_idempotent(doc: dict[str, Any], response: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    once = refresh.merge_models(doc, response, today=TODAY)
    assert doc == original
    twice = refresh.merge_models(once, response, today=TODAY)
    assert refresh.dump_catalogue(once) == refresh.dump_catalogue(twice)


def test_merged_file_loads(doc: dict[str, Any], response: dict[str, Any]) -> None:
    merged = refresh.merge_models(doc, response, today=TODAY)
    text = refresh.dump_catalogue(merged)
    infos = _catalogue._parse_data_file(text.encode())
    catalogue = Catalogue()
    for info in infos:
        catalogue.register(info)
    assert catalogue.get("mistral/mistral-moderation-2411").known
    assert catalogue.get("mistral/mistral-small-latest").input_cost_per_token == 1.5e-07


def test_not_a_models_answer(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="data"):
        refresh.merge_models(doc, {"detail": "Unauthorized"})


def test_cli_dry_run_prints_the_diff_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "models.json"
    target.write_text(DATA_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    before = target.read_text(encoding="utf-8")
    args = ["--from-file", str(RECORDED), "--catalogue", str(target), "--today", TODAY]
    assert refresh.main([*args, "--dry-run"]) == 0
    out = capsys.readouterr()
    assert '+    {"id": "devstral-2512"' in out.out
    assert "would change" in out.err
    assert target.read_text(encoding="utf-8") == before
    assert refresh.main(args) == 0
    assert '{"id": "devstral-2512"' in target.read_text(encoding="utf-8")


def test_cli_needs_a_key_or_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(SystemExit):
        refresh.main(["--catalogue", str(tmp_path / "models.json")])
