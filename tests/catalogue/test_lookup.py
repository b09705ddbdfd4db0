"""Lookups: the names the project must know, aliases, unknown models, filters, lazy loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatewise.catalogue import Catalogue, ModelInfo, _catalogue, default_catalogue
from tests.catalogue._script import refresh

DATA_FILE = Path(_catalogue.__file__).with_name("models.json")

# name: (mode, max_input, max_output, input $/tok, output $/tok, reasoning, levels, canonical)
REQUIRED = {
    "mistral-tiny": ("chat", 32000, 8191, 2.5e-07, 2.5e-07, "none", (), "open-mistral-7b"),
    "mistral-small-latest": ("chat", 262144, 262144, 1.5e-07, 6e-07, "native", ("none", "high"),
                             "mistral-small-2603"),
    "mistral-medium-latest": ("chat", 262144, 262144, 1.5e-06, 7.5e-06, "native",
                              ("none", "high"), "mistral-medium-3-5"),
    "mistral-large-2407": ("chat", 128000, 128000, 3e-06, 9e-06, "none", (), None),
    "mistral-large-latest": ("chat", 262144, 262144, 5e-07, 1.5e-06, "none", (),
                             "mistral-large-2512"),
    "magistral-small-2506": ("chat", 40000, 40000, 5e-07, 1.5e-06, "instructed", (), None),
    "magistral-medium-2506": ("chat", 40000, 40000, 2e-06, 5e-06, "instructed", (), None),
    "open-mistral-7b": ("chat", 32000, 8191, 2.5e-07, 2.5e-07, "none", (), None),
    "open-mixtral-8x7b": ("chat", 32000, 8191, 7e-07, 7e-07, "none", (), None),
    "open-mixtral-8x22b": ("chat", 65336, 8191, 2e-06, 6e-06, "none", (), None),
    "codestral-latest": ("chat", 256000, 128000, 3e-07, 9e-07, "none", (), "codestral-2508"),
    "open-mistral-nemo": ("chat", 128000, 128000, 3e-07, 3e-07, "none", (),
                          "open-mistral-nemo-2407"),
    "open-mistral-nemo-2407": ("chat", 128000, 128000, 3e-07, 3e-07, "none", (), None),
    "open-codestral-mamba": ("chat", 256000, 256000, 2.5e-07, 2.5e-07, "none", (), None),
    "codestral-mamba-latest": ("chat", 256000, 256000, 2.5e-07, 2.5e-07, "none", (),
                               "open-codestral-mamba"),
    "mistral-embed": ("embedding", 8192, None, 1e-07, None, "none", (), "mistral-embed-2312"),
}

# Every mistral/ row of both tables in mistral-models.md.
_TABLE = """
mistral-large-2407 magistral-small-2506 magistral-medium-2506 open-mistral-7b
open-mixtral-8x7b open-mixtral-8x22b open-mistral-nemo-2407 open-codestral-mamba
codestral-2508 codestral-embed codestral-embed-2505 codestral-latest codestral-mamba-latest
devstral-latest devstral-medium-latest devstral-small-latest glm-5-2 labs-leanstral-1-5
labs-leanstral-1-5-1 magistral-medium-latest magistral-small-latest ministral-14b-2512
ministral-14b-latest ministral-3-14b-2512 ministral-3-3b-2512 ministral-3-8b-2512
ministral-3b-2512 ministral-3b-latest ministral-8b-2512 ministral-8b-latest
mistral-code-agent-latest mistral-code-fim-latest mistral-code-latest mistral-embed
mistral-embed-2312 mistral-large-2512 mistral-large-3 mistral-large-4 mistral-large-4-0
mistral-large-latest mistral-medium mistral-medium-2604 mistral-medium-3 mistral-medium-3-5
mistral-medium-3.5 mistral-medium-latest mistral-moderation-2603 mistral-ocr-2512
mistral-ocr-3 mistral-ocr-3-0 mistral-ocr-4 mistral-ocr-4-0 mistral-ocr-4-1 mistral-ocr-latest
mistral-small mistral-small-2603 mistral-small-latest mistral-tiny mistral-vibe-cli-fast
mistral-vibe-cli-latest mistral-vibe-cli-with-tools open-mistral-nemo pixtral-large-latest
voxtral-mini-2602 voxtral-mini-latest voxtral-mini-realtime-2602 voxtral-mini-realtime-latest
voxtral-mini-transcribe-realtime-2602 voxtral-mini-transcribe-realtime-latest
voxtral-mini-tts-2603 voxtral-mini-tts-latest voxtral-small-2507 voxtral-small-latest
zai-glm-5 zai-glm-5-2 zai-glm-5-3 zai-glm-latest
"""
TABLE_IDS = _TABLE.split()


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_model_facts(catalogue: Catalogue, name: str) -> None:
    mode, max_in, max_out, price_in, price_out, reasoning, levels, canonical = REQUIRED[name]
    info = catalogue.get(f"mistral/{name}")
    assert info.known
    assert (info.provider, info.model, info.key) == ("mistral", name, f"mistral/{name}")
    assert info.mode == mode
    assert (info.max_input_tokens, info.max_output_tokens) == (max_in, max_out)
    assert (info.input_cost_per_token, info.output_cost_per_token) == (price_in, price_out)
    assert (info.reasoning, info.reasoning_effort_levels) == (reasoning, levels)
    assert info.canonical == canonical
    assert catalogue.get(name, provider="mistral") == info
    assert catalogue.get(f"mistral/{name}", provider="mistral") == info
    assert catalogue.get(name) == info  # a bare name resolves: one provider has it


@pytest.mark.parametrize("name", TABLE_IDS)
def test_every_table_row_is_known(catalogue: Catalogue, name: str) -> None:
    assert catalogue.get(f"mistral/{name}").known


def test_rows_of_other_providers_are_left_out(catalogue: Catalogue) -> None:
    assert not catalogue.get("codestral/codestral-latest").known
    assert not catalogue.get("text-completion-codestral/codestral-2405").known
    assert catalogue.list(provider="codestral") == []


def test_alias_keeps_its_own_name_and_points_at_its_model(catalogue: Catalogue) -> None:
    alias = catalogue.get("mistral/mistral-small-latest")
    dated = catalogue.get("mistral/mistral-small-2603")
    assert alias.model == "mistral-small-latest"
    assert alias.canonical == "mistral-small-2603"
    assert dated.canonical is None
    assert alias.aliases == ("mistral-small-2603",)
    assert dated.aliases == ("mistral-small-latest",)
    medium = catalogue.get("mistral/mistral-medium-3-5")
    assert set(medium.aliases) == {"mistral-medium", "mistral-medium-3", "mistral-medium-3.5",
                                   "mistral-medium-latest"}
    assert "mistral-medium-3-5" in catalogue.get("mistral/mistral-medium").aliases


@pytest.mark.parametrize(("alias", "target"), [
    ("mistral-small-latest", "mistral-small-2603"),
    ("mistral-large-latest", "mistral-large-2512"),
    ("codestral-latest", "codestral-2508"),
    ("mistral-embed", "mistral-embed-2312"),
    ("codestral-embed", "codestral-embed-2505"),
    ("mistral-medium-latest", "mistral-medium-3-5"),
    ("open-mistral-nemo", "open-mistral-nemo-2407"),
    ("ministral-3b-latest", "ministral-3b-2512"),
    ("ministral-8b-latest", "ministral-8b-2512"),
    ("ministral-14b-latest", "ministral-14b-2512"),
    ("magistral-small-latest", "magistral-small-2509"),
    ("magistral-medium-latest", "magistral-medium-2509"),
    ("mistral-tiny", "open-mistral-7b"),
    ("codestral-mamba-latest", "open-codestral-mamba"),
])
def test_alias_targets(catalogue: Catalogue, alias: str, target: str) -> None:
    assert catalogue.get(f"mistral/{alias}").canonical == target


def test_every_canonical_is_a_known_model_and_not_an_alias(catalogue: Catalogue) -> None:
    for info in catalogue.list():
        if info.canonical:
            target = catalogue.get(info.canonical, provider=info.provider)
            assert target.known, info.key
            assert target.canonical is None, f"{info.key} -> {target.key} -> {target.canonical}"
            assert target.mode == info.mode


def test_an_alias_prices_like_its_model(catalogue: Catalogue) -> None:
    for info in catalogue.list():
        if info.canonical:
            target = catalogue.get(info.canonical, provider=info.provider)
            assert (info.input_cost_per_token, info.output_cost_per_token) == (
                target.input_cost_per_token, target.output_cost_per_token), info.key


def test_reasoning_styles(catalogue: Catalogue) -> None:
    for name in ("magistral-small-latest", "magistral-medium-latest"):
        info = catalogue.get(f"mistral/{name}")
        assert (info.reasoning, info.reasoning_effort_levels) == ("native", ("none", "high"))
    assert catalogue.get("mistral/mistral-large-4").reasoning_effort_levels == ("none", "high")
    assert catalogue.get("mistral/zai-glm-latest").reasoning_effort_levels == ("low", "high",
                                                                               "max")
    assert catalogue.get("mistral/devstral-latest").reasoning == "none"
    natives = [i for i in catalogue.list() if i.reasoning == "native"]
    assert natives
    assert all(i.reasoning_effort_levels for i in natives)
    assert {i.model for i in catalogue.list() if i.reasoning == "instructed"} == {
        "magistral-small-2506", "magistral-medium-2506"}


def test_embedding_and_ocr_facts(catalogue: Catalogue) -> None:
    embed = catalogue.get("mistral/mistral-embed")
    assert (embed.embedding_dimensions, embed.max_embedding_dimensions) == (1024, 1024)
    assert not embed.supports_output_dimension
    code = catalogue.get("mistral/codestral-embed")
    assert (code.embedding_dimensions, code.max_embedding_dimensions) == (1536, 3072)
    assert code.supports_output_dimension
    assert code.cache_read_input_token_cost == 1.5e-08
    assert catalogue.get("mistral/mistral-embed-dim256-2510").embedding_dimensions == 256
    assert catalogue.get("mistral/mistral-ocr-latest").ocr_cost_per_page == 0.004
    assert catalogue.get("mistral/mistral-ocr-2512").ocr_cost_per_page == 0.002


def test_capabilities(catalogue: Catalogue) -> None:
    assert catalogue.get("mistral/codestral-latest").supports_fim
    assert catalogue.get("mistral/codestral-2508").supports_fim
    assert not catalogue.get("mistral/mistral-small-latest").supports_fim
    small = catalogue.get("mistral/mistral-small-latest")
    assert small.supports_function_calling
    assert small.supports_vision
    assert small.supports_response_schema
    assert small.supports_assistant_prefill
    assert not catalogue.get("mistral/open-mistral-7b").supports_function_calling
    assert catalogue.get("mistral/pixtral-large-latest").supports_vision
    assert catalogue.get("mistral/mistral-ocr-4-0").deprecation_date == "2026-09-30"


def test_unknown_models_get_conservative_defaults_and_never_raise(catalogue: Catalogue,
                                                                  ) -> None:
    for name in ("mistral/no-such-model", "no-such-model", "acme/x", "", "/", "mistral/"):
        info = catalogue.get(name)
        assert not info.known
        assert info.mode == "chat"
        assert info.reasoning == "none"
        assert info.input_cost_per_token is None
        assert info.max_input_tokens is None
    info = catalogue.get("mistral/ft:open-mistral-7b:587a6b29:20240514:7e773925")
    assert (info.provider, info.model, info.known) == (
        "mistral", "ft:open-mistral-7b:587a6b29:20240514:7e773925", False)
    assert catalogue.get("acme/mistral-small-latest").known is False
    assert "mistral/mistral-tiny" in catalogue
    assert "mistral/nope" not in catalogue


def test_list_filters(catalogue: Catalogue) -> None:
    everything = catalogue.list()
    assert len(everything) == len(catalogue) >= len(TABLE_IDS)
    assert [i.key for i in everything] == sorted(i.key for i in everything)
    embeddings = catalogue.list(mode="embedding")
    assert {i.model for i in embeddings} >= {"mistral-embed", "codestral-embed"}
    assert all(i.mode == "embedding" for i in embeddings)
    assert catalogue.list(provider="mistral") == everything
    assert catalogue.list(provider="acme") == []
    assert {i.model for i in catalogue.list(provider="mistral", mode="ocr")} >= {
        "mistral-ocr-latest", "mistral-ocr-2512"}


def test_catalogue_from_entries() -> None:
    catalogue = Catalogue({
        "acme/fast": {"max_input_tokens": 1000, "reasoning_effort_levels": ["low"],
                      "reasoning": "native"},
        "tiny": {"provider": "acme", "input_cost_per_token": 1e-6, "source": "a note"},
    })
    fast = catalogue.get("acme/fast")
    assert fast.max_input_tokens == 1000
    assert fast.reasoning_effort_levels == ("low",)
    assert catalogue.get("acme/tiny").input_cost_per_token == 1e-6
    assert not catalogue.get("mistral/mistral-tiny").known  # nothing packaged in it
    with pytest.raises(TypeError, match="unknown fact"):
        Catalogue({"acme/x": {"context": 5}})
    with pytest.raises(ValueError, match="provider"):
        Catalogue({"x": {}})


def test_a_bare_name_two_providers_share_is_not_guessed() -> None:
    catalogue = Catalogue({"a/m": {}, "b/m": {}, "a/only": {}})
    assert not catalogue.get("m").known
    assert catalogue.get("only").key == "a/only"


def test_packaged_file_is_read_once_on_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = _catalogue._read_data_file

    def counting() -> bytes:
        reads.append(1)
        return real()

    monkeypatch.setattr(_catalogue, "_read_data_file", counting)
    catalogue = Catalogue()
    assert not catalogue.loaded
    assert reads == []
    catalogue.get("mistral/mistral-tiny")
    assert catalogue.loaded
    catalogue.get("mistral/mistral-small-latest")
    catalogue.list()
    assert reads == [1]


def test_default_catalogue_is_one_shared_instance() -> None:
    assert default_catalogue() is default_catalogue()
    assert default_catalogue() is not Catalogue()


IMPORT_PROBE = r"""
import json, sys
opened = []
def hook(event, args):
    if event == "open" and str(args[0]).endswith("models.json"):
        opened.append(str(args[0]))
sys.addaudithook(hook)
import gatewise.catalogue as c
state = {"opened_at_import": list(opened), "orjson_at_import": "orjson" in sys.modules}
catalogue = c.default_catalogue()
state["loaded_before_lookup"] = catalogue.loaded
state["opened_before_lookup"] = list(opened)
catalogue.get("mistral/mistral-tiny")
catalogue.get("mistral/mistral-embed")
state["opened_after_lookups"] = len(opened)
print(json.dumps(state))
"""


def test_import_reads_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=True, capture_output=True,
                         text=True).stdout
    state = json.loads(out.strip().splitlines()[-1])
    assert state == {"opened_at_import": [], "orjson_at_import": False,
                     "loaded_before_lookup": False, "opened_before_lookup": [],
                     "opened_after_lookups": 1}


def test_data_file_is_in_the_writer_format_and_sorted() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert refresh.dump_catalogue(doc) == text
    ids = [m["id"] for m in doc["models"]]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    assert {"date", "sources"} <= set(doc["_meta"])
    assert all(m.get("source") for m in doc["models"])


def test_model_info_is_frozen(catalogue: Catalogue) -> None:
    info = catalogue.get("mistral/mistral-tiny")
    assert isinstance(info, ModelInfo)
    with pytest.raises(AttributeError):
        info.input_cost_per_token = 0.0  # type: ignore[misc]
