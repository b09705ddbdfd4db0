"""LiteLLM's wildcard entries: ``model_name: "*"`` (or ``"mistral/*"``) with
``model: mistral/*`` serves every chat and embedding model the catalogue knows for Mistral,
forwarded as asked and priced from the catalogue; an explicit entry wins.

The real CLI in a subprocess in front of the fake Mistral server, driven by the ``openai``
package; ``fake.requests`` says which model reached the upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gatewise.catalogue import cost_for_usage, default_catalogue
from tests.fake_mistral import FakeMistral
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO


def entry(name: str, model: str, fake: FakeMistral, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": model, "api_key": "test-key",
                                                   "api_base": fake.base_url, **params}}


@pytest.fixture(scope="module")
def star(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Proxy]:
    """``"*"``, and an explicit entry for one name (served by another model, to tell)."""
    config = {"model_list": [
        entry("*", "mistral/*", _fake_server),
        entry("mistral-large-latest", "mistral/mistral-medium-latest", _fake_server)]}
    with run_proxy_with(config, tmp_path_factory.mktemp("star")) as server:
        yield server


@pytest.fixture(scope="module")
def prefixed(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Proxy]:
    """``"mistral/*"``, limited to 2 requests a minute."""
    config = {"model_list": [entry("mistral/*", "mistral/*", _fake_server, rpm=2)]}
    with run_proxy_with(config, tmp_path_factory.mktemp("prefixed")) as server:
        yield server


def sent_model(fake: FakeMistral) -> Any:
    body = fake.requests[-1].json
    assert isinstance(body, dict)
    return body["model"]


@pytest.mark.parametrize("name", ["mistral-small-latest", "mistral/mistral-small-latest",
                                  "magistral-medium-latest", "open-mistral-nemo"])
def test_any_model_of_the_provider_is_served_as_asked_and_priced(
        star: Proxy, fake_mistral: FakeMistral, name: str) -> None:
    raw = client(star).chat.completions.with_raw_response.create(model=name, messages=HELLO)
    answer = raw.parse()
    bare = name.removeprefix("mistral/")
    assert sent_model(fake_mistral) == bare
    assert raw.headers["x-gatewise-model-id"] == "*#0"
    assert answer.usage is not None
    info = default_catalogue().get(f"mistral/{bare}")
    expected = cost_for_usage(info, answer.usage.model_dump())
    assert expected and float(raw.headers["x-gatewise-response-cost"]) == pytest.approx(
        expected, rel=1e-6)


def test_a_stream_through_a_wildcard(star: Proxy, fake_mistral: FakeMistral) -> None:
    chunks = list(client(star).chat.completions.create(model="ministral-8b-latest",
                                                       messages=HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert sent_model(fake_mistral) == "ministral-8b-latest"


def test_embeddings_through_a_wildcard(star: Proxy, fake_mistral: FakeMistral) -> None:
    raw = client(star).embeddings.with_raw_response.create(model="mistral-embed",
                                                           input=["a", "b"])
    assert len(raw.parse().data) == 2
    assert sent_model(fake_mistral) == "mistral-embed"
    assert float(raw.headers["x-gatewise-response-cost"]) > 0


def test_an_explicit_entry_wins_over_the_wildcard(star: Proxy, fake_mistral: FakeMistral
                                                  ) -> None:
    client(star).chat.completions.create(model="mistral-large-latest", messages=HELLO)
    assert sent_model(fake_mistral) == "mistral-medium-latest"


@pytest.mark.parametrize("name", ["no-such-model", "*", "mistral/*", "openai/gpt-4o"])
def test_a_name_the_provider_does_not_serve_is_not_found(star: Proxy, fake_mistral: FakeMistral,
                                                        name: str) -> None:
    with pytest.raises(openai.NotFoundError):
        client(star).chat.completions.create(model=name, messages=HELLO)
    assert fake_mistral.requests == []


def test_models_lists_the_catalogues_models_not_the_pattern(star: Proxy) -> None:
    ids = [m.id for m in client(star).models.list()]
    catalogue = default_catalogue()
    expected = {i.model for mode in ("chat", "embedding") for i in catalogue.list("mistral", mode)}
    assert set(ids) == expected | {"mistral-large-latest"}
    assert len(ids) == len(set(ids)) and "*" not in ids
    assert "mistral-embed" in ids and "mistral-small-latest" in ids
    assert ids[0] == "mistral-large-latest"  # the explicit entries first
    assert client(star).models.retrieve("mistral-embed").id == "mistral-embed"
    served = httpx.get(star.url + "/v1/models/mistral/mistral-embed")
    assert served.status_code == 200  # the prefixed twin: accepted, not listed


def test_a_prefixed_pattern_takes_prefixed_names_only(prefixed: Proxy, fake_mistral: FakeMistral
                                                      ) -> None:
    ids = [m.id for m in client(prefixed).models.list()]
    assert ids and all(i.startswith("mistral/") for i in ids)
    assert "mistral/mistral-small-latest" in ids
    with pytest.raises(openai.NotFoundError):
        client(prefixed).chat.completions.create(model="mistral-small-latest", messages=HELLO)
    client(prefixed).chat.completions.create(model="mistral/codestral-latest", messages=HELLO)
    assert sent_model(fake_mistral) == "codestral-latest"


def test_the_wildcard_deployments_limits_hold_across_its_models(prefixed: Proxy) -> None:
    # rpm: 2 for the whole entry, whichever models are asked: of five calls, three fall in
    # one minute window even if one ends meanwhile.
    api = client(prefixed)
    statuses = []
    for name in ("small", "large", "medium", "small", "large"):
        try:
            api.chat.completions.create(model=f"mistral/mistral-{name}-latest", messages=HELLO)
            statuses.append(200)
        except openai.RateLimitError as error:
            statuses.append(error.status_code)
    assert 429 in statuses and statuses.count(200) <= 3


@pytest.mark.parametrize(("settings", "problem"), [
    ({"fallbacks": [{"small": ["*"]}]}, "fallbacks cannot go to a wildcard group (*)"),
    ({"model_group_alias": {"any": "*"}}, "a wildcard group serves the names it matches"),
])
def test_a_wildcard_group_cannot_be_a_fallback_or_an_alias(settings: dict[str, Any],
                                                           problem: str) -> None:
    from gatewise.proxy.config import ConfigError
    from tests.proxy.conftest import make_app

    small = {"model_name": "small", "params": {"model": "mistral/mistral-small-latest",
                                               "api_key": "k"}}
    star = {"model_name": "*", "params": {"model": "mistral/*", "api_key": "k"}}
    with pytest.raises(ConfigError) as info:
        make_app({"model_list": [small, star], "router_settings": settings})
    assert problem in str(info.value)
