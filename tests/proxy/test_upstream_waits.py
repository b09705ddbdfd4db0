"""Waits an upstream asks for (``Retry-After``, ``x-ratelimit-reset-*``) are never trusted
blindly: a value that is not a finite, non-negative number is ignored, and a cooldown never
lasts longer than ``router_settings.max_cooldown_time``.

The real CLI in a subprocess in front of two fake Mistral servers, one deployment each, in
one model group; driven by the ``openai`` package.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from gatewise import RateLimitError
from gatewise.proxy.errors import from_api_error
from tests.fake_mistral import FakeMistral, Status
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO

Fakes = tuple[FakeMistral, FakeMistral]


def config(fakes: Fakes) -> dict[str, Any]:
    return {
        "model_list": [
            {"model_name": "small", "model_info": {"id": name},
             "litellm_params": {"model": "mistral/mistral-small-latest", "api_key": "test-key",
                                "api_base": fake.base_url}}
            for name, fake in zip("ab", fakes, strict=True)],
        "router_settings": {"num_retries": 1, "cooldown_time": 0.5, "max_cooldown_time": 1,
                            "retry_backoff": 0.01},
    }


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    with FakeMistral() as a, FakeMistral() as b:
        yield a, b


@pytest.fixture
def fakes(servers: Fakes) -> Fakes:
    for fake in servers:
        fake.reset()
    return servers


@pytest.fixture(scope="module")
def proxy(servers: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with run_proxy_with(config(servers), tmp_path_factory.mktemp("waits")) as server:
        yield server


def rate_limited_everywhere(fakes: Fakes, headers: dict[str, str]) -> None:
    for fake in fakes:
        fake.script(Status(429, headers=headers))


def served_again(proxy: Proxy, within: float = 20.0) -> float:
    """Seconds until a call is served again (polled; the bound is generous, a cooldown of
    the failed kind would last for hours or for ever)."""
    started = time.monotonic()
    while True:
        try:
            client(proxy).chat.completions.create(model="small", messages=HELLO)
            return time.monotonic() - started
        except openai.RateLimitError:
            assert time.monotonic() - started < within, "the group never came back"
            time.sleep(0.1)


@pytest.mark.parametrize("headers", [
    {"Retry-After": "inf"}, {"Retry-After": "1e400"}, {"Retry-After": "nan"},
    {"Retry-After": "-3"}, {"x-ratelimit-reset-tokens": "inf"},
], ids=["inf", "1e400", "nan", "negative", "reset-inf"])
def test_a_non_finite_wait_is_ignored(proxy: Proxy, fakes: Fakes, headers: dict[str, str]
                                      ) -> None:
    rate_limited_everywhere(fakes, headers)
    with pytest.raises(openai.RateLimitError) as info:  # a proper 429, not a 500
        client(proxy).chat.completions.create(model="small", messages=HELLO)
    assert info.value.status_code == 429
    assert [len(f.requests) for f in fakes] == [1, 1]
    retry_after = info.value.response.headers.get("retry-after")
    assert retry_after is None or retry_after.isdigit()
    served_again(proxy)  # the configured cooldown (0.5 s), not for ever


def test_a_huge_wait_cools_down_for_at_most_max_cooldown_time(proxy: Proxy, fakes: Fakes
                                                              ) -> None:
    rate_limited_everywhere(fakes, {"Retry-After": "99999999"})
    with pytest.raises(openai.RateLimitError):
        client(proxy).chat.completions.create(model="small", messages=HELLO)
    served_again(proxy)  # after max_cooldown_time (1 s), not three years


@pytest.mark.parametrize(("wait", "header"), [
    (math.inf, None), (math.nan, None), (-1.0, None), (1e300, str(round(1e300))), (2.4, "2"),
])
def test_the_retry_after_header_never_raises(wait: float, header: str | None) -> None:
    error = from_api_error(RateLimitError("slow down", retry_after=wait))
    assert dict(error.headers).get(b"retry-after") == (header and header.encode())
