"""Generated bodies against the new routes, in process with the strict fake behind: whatever
a client sends, the answer is a success or OpenAI's error JSON with a 4xx -- never a 5xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewise.proxy.app import ProxyApp
from tests.fake_mistral import FakeMistral
from tests.proxy.conftest import call, make_app

ROUTES = {
    "/v1/completions": ["prompt", "suffix", "max_tokens", "min_tokens", "stop", "stream",
                        "temperature", "top_p", "seed", "n", "echo", "logprobs", "best_of",
                        "logit_bias", "stream_options", "user", "extra_body"],
    "/v1/moderations": ["input", "metadata", "user", "stream"],
    "/v1/fim/completions": ["prompt", "suffix", "max_tokens", "stream", "random_seed",
                            "metadata"],
    "/v1/chat/moderations": ["input"],
    "/v1/classifications": ["input", "metadata"],
    "/v1/chat/classifications": ["input"],
}
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system",
                                                          "tool", "bot"])},
                                optional={"content": st.one_of(st.text(max_size=5),
                                                               st.none(), st.integers())})
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=False), st.text(max_size=6))
VALUES = st.one_of(
    LEAVES,
    st.lists(st.one_of(st.text(max_size=4), st.integers(), MESSAGE), max_size=3),
    st.lists(st.lists(MESSAGE, max_size=2), max_size=2),
    st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=2)}),
    st.dictionaries(st.text(max_size=3), LEAVES, max_size=2),
)
MODELS = st.sampled_from(["codestral", "moderation", "small", "nope", None, 3])


def bodies(route: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda model, fields: {"model": model, **fields} if model else fields,
                     MODELS, st.dictionaries(st.sampled_from(ROUTES[route]), VALUES,
                                             max_size=4))


@pytest.fixture(scope="module")
def app(_fake_server: FakeMistral) -> ProxyApp:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {"model_name": name, "params": {"model": model, "api_key": "test-key",
                                               "api_base": _fake_server.base_url}}

    return make_app({"model_list": [entry("codestral", "mistral/codestral-latest"),
                                    entry("moderation", "mistral/mistral-moderation-latest"),
                                    entry("small", "mistral/mistral-small-latest")],
                     "settings": {"num_retries": 0, "request_timeout": 5}})


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_body_makes_a_5xx(app: ProxyApp, route: str) -> None:
    loop = asyncio.new_event_loop()  # one loop for the examples: the app's pool lives in it

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(body=bodies(route))
    def check(body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()  # integers past 64 bits too
        answer = loop.run_until_complete(call(app, "POST", route, body=raw))
        assert answer.status < 500, (body, answer.body)
        if answer.status >= 400:
            error = answer.error()
            assert error["type"] and error["message"]

    try:
        check()
    finally:
        loop.run_until_complete(app.state.aclose())
        loop.close()
