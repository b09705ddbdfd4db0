"""What a client may not override through the proxy: the fields gatewise writes into the
upstream body (``extra_body``), the retry budget and the timeouts the config allows, and a
canned answer on a deployment that calls a real upstream (``mock_response``).

The real CLI in a subprocess in front of the fake Mistral server, driven by the ``openai``
package; ``fake.requests`` says what reached the upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fake_mistral import Delay, FakeMistral, Status
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO

SMALL = "mistral/mistral-small-latest"


def config(fake: FakeMistral) -> dict[str, Any]:
    upstream = {"api_key": "test-key", "api_base": fake.base_url}
    return {
        "model_list": [
            {"model_name": "small", "litellm_params": {"model": SMALL, **upstream}},
            {"model_name": "embed", "litellm_params": {"model": "mistral/mistral-embed",
                                                       **upstream}},
            {"model_name": "quick", "litellm_params": {"model": SMALL, "timeout": 1,
                                                       "stream_timeout": 1, "max_retries": 0,
                                                       **upstream}},
            {"model_name": "demo", "litellm_params": {"model": SMALL, "mock_response": "hi"}},
            {"model_name": "mixed", "litellm_params": {"model": SMALL, "mock_response": "hi"}},
            {"model_name": "mixed", "litellm_params": {"model": SMALL, **upstream}},
            {"model_name": "demo-then-real", "litellm_params": {"model": SMALL,
                                                                "mock_response": "hi"}},
        ],
        "router_settings": {"num_retries": 2, "retry_backoff": 0.01,
                            "fallbacks": [{"demo-then-real": ["small"]}],
                            "model_group_alias": {"demo-alias": "demo"}},
    }


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    with run_proxy_with(config(_fake_server), tmp_path_factory.mktemp("overrides")) as server:
        yield server


def refused(call: Any) -> dict[str, Any]:
    """The 400 ``call`` gets, as the OpenAI error object."""
    with pytest.raises(openai.BadRequestError) as info:
        call()
    assert info.value.status_code == 400
    body: dict[str, Any] = info.value.body  # type: ignore[assignment]
    return body


# -- extra_body -----------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "named"), [
    ({"model": "magistral-medium-latest", "max_tokens": 100000},
     "extra_body.max_tokens, extra_body.model"),
    ({"messages": [{"role": "user", "content": "not what was checked"}]}, "extra_body.messages"),
    ({"stream": True}, "extra_body.stream"),
    ({"random_seed": 1, "temperature": 1.4}, "extra_body.random_seed, extra_body.temperature"),
])
def test_extra_body_cannot_replace_what_gatewise_writes(proxy: Proxy, fake_mistral: FakeMistral,
                                                        extra: dict[str, Any], named: str
                                                        ) -> None:
    error = refused(lambda: client(proxy).chat.completions.create(
        model="small", messages=HELLO, extra_body={"extra_body": extra}))
    assert error["param"] == named
    for name in extra:
        assert name in error["message"]
    assert fake_mistral.requests == []


def test_extra_body_cannot_replace_an_embedding_field(proxy: Proxy, fake_mistral: FakeMistral
                                                      ) -> None:
    error = refused(lambda: client(proxy).embeddings.create(
        model="embed", input="hi", extra_body={"extra_body": {"model": "codestral-embed",
                                                              "input": ["x"] * 5000}}))
    assert error["param"] == "extra_body.input, extra_body.model"
    assert fake_mistral.requests == []


def test_extra_body_still_adds_fields_gatewise_never_writes(proxy: Proxy,
                                                            fake_mistral: FakeMistral) -> None:
    with pytest.raises(openai.UnprocessableEntityError):  # the strict fake knows no such field
        client(proxy).chat.completions.create(
            model="small", messages=HELLO, extra_body={"extra_body": {"new_field": 1}})
    sent = fake_mistral.requests[-1].json
    assert isinstance(sent, dict)
    assert sent["new_field"] == 1
    assert sent["model"] == "mistral-small-latest"


# -- retries and timeouts: lower, never higher ----------------------------------------------

@pytest.mark.parametrize("option", ["num_retries", "max_retries"])
def test_a_request_cannot_raise_the_retry_budget(proxy: Proxy, fake_mistral: FakeMistral,
                                                 option: str) -> None:
    fake_mistral.script(*[Status(429, headers={"Retry-After": "0"})] * 20)
    with pytest.raises(openai.RateLimitError):
        client(proxy).chat.completions.create(model="small", messages=HELLO,
                                              extra_body={option: 1000000})
    assert len(fake_mistral.requests) == 3  # router_settings.num_retries: 2


def test_a_request_may_lower_the_retry_budget(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(*[Status(429, headers={"Retry-After": "0"})] * 20)
    with pytest.raises(openai.RateLimitError):
        client(proxy).chat.completions.create(model="small", messages=HELLO,
                                              extra_body={"num_retries": 0})
    assert len(fake_mistral.requests) == 1


@pytest.mark.parametrize(("stream", "option"), [
    (False, "timeout"), (False, "request_timeout"), (True, "stream_timeout"), (True, "timeout"),
])
def test_a_request_cannot_raise_the_timeout(proxy: Proxy, fake_mistral: FakeMistral,
                                            stream: bool, option: str) -> None:
    fake_mistral.script(Delay(3))  # answered within the 30 s asked, not the 1 s configured
    with pytest.raises(openai.InternalServerError) as info:  # a stream too: no first chunk
        client(proxy).chat.completions.create(  # in time, so no 200 either
            model="quick", messages=HELLO, stream=stream, extra_body={option: 30})
    assert info.value.status_code == 504
    assert len(fake_mistral.requests) == 1


def test_a_request_may_lower_the_timeout(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Delay(3))
    with pytest.raises(openai.InternalServerError) as info:
        client(proxy).chat.completions.create(model="small", messages=HELLO,
                                              extra_body={"timeout": 0.5, "num_retries": 0})
    assert info.value.status_code == 504
    assert len(fake_mistral.requests) == 1


# -- mock_response: only where the operator mocks ------------------------------------------

@pytest.mark.parametrize("name", ["small", "mixed", "demo-then-real"])
@pytest.mark.parametrize("stream", [False, True])
def test_mock_response_is_refused_where_an_upstream_may_be_called(
        proxy: Proxy, fake_mistral: FakeMistral, name: str, stream: bool) -> None:
    error = refused(lambda: client(proxy).chat.completions.create(
        model=name, messages=HELLO, stream=stream, extra_body={"mock_response": "free"}))
    assert error["param"] == "mock_response"
    assert name in error["message"]
    assert fake_mistral.requests == []


def test_mock_response_is_refused_for_embeddings_that_call_an_upstream(proxy: Proxy) -> None:
    error = refused(lambda: client(proxy).embeddings.create(
        model="embed", input="hi", extra_body={"mock_response": "free"}))
    assert error["param"] == "mock_response"


def test_mock_response_is_refused_when_a_requests_fallback_calls_an_upstream(
        proxy: Proxy) -> None:
    error = refused(lambda: client(proxy).chat.completions.create(
        model="demo", messages=HELLO,
        extra_body={"mock_response": "free", "fallbacks": ["small"]}))
    assert error["param"] == "mock_response"


@pytest.mark.parametrize("name", ["demo", "demo-alias"])
def test_a_mock_entry_takes_a_requests_mock_response_and_costs_nothing(
        proxy: Proxy, fake_mistral: FakeMistral, name: str) -> None:
    raw = client(proxy).chat.completions.with_raw_response.create(
        model=name, messages=HELLO, extra_body={"mock_response": "from the request"})
    assert raw.parse().choices[0].message.content == "from the request"
    assert raw.headers["x-gatewise-response-cost"] == "0"
    assert fake_mistral.requests == []
