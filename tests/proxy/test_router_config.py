"""``router_settings`` and the per-entry routing fields: checked with their YAML path, and
given to the one ``Router`` the app builds (only usable deployments, defaults from
``settings``)."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise.proxy.app import ProxyApp
from gatewise.proxy.config import ConfigError, parse_config
from gatewise.proxy.server import startup_report
from tests.proxy.conftest import HELLO, call, make_app

CHAT = "/v1/chat/completions"
SMALL = "mistral/mistral-small-latest"


def entry(name: str = "m", **params: Any) -> dict[str, Any]:
    return {"model_name": name, "params": {"model": SMALL, "api_key": "k", **params}}


def mock(name: str, text: str = "ok", **params: Any) -> dict[str, Any]:
    return {"model_name": name, "params": {"model": SMALL, "mock_response": text, **params}}


def problems(data: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        make_app(data, environ)
    return info.value.problems


def test_router_settings_are_read_litellm_style() -> None:
    config = parse_config({
        "model_list": [entry("small"), entry("large")],
        "router_settings": {
            "routing_strategy": "usage-based-routing-v2", "num_retries": 3, "allowed_fails": 2,
            "cooldown_time": 12, "timeout": 30, "stream_timeout": 5, "seed": 1,
            "fallbacks": [{"small": ["large"]}], "context_window_fallbacks": {"small": "large"},
            "model_group_alias": {"s": "small", "hidden-s": {"model": "small", "hidden": True}},
            "redis_host": "localhost", "retry_policy": {"TimeoutErrorRetries": 2}},
    }, "c.yaml", environ={})
    assert config.router_settings == {
        "routing_strategy": "usage-based-routing-v2", "num_retries": 3, "allowed_fails": 2,
        "cooldown_time": 12, "timeout": 30, "stream_timeout": 5, "seed": 1,
        "fallbacks": {"small": ["large"]}, "context_window_fallbacks": {"small": ["large"]},
        "model_group_alias": {"s": {"model": "small", "hidden": False},
                              "hidden-s": {"model": "small", "hidden": True}}}
    assert config.warnings == (
        "c.yaml: router_settings.retry_policy: a LiteLLM setting gatewise does not implement: "
        "ignored",)
    assert config.redis is not None and config.redis.address == "redis://localhost:6379/0"


def test_router_settings_problems_name_their_path() -> None:
    found = problems({"model_list": [entry("small")], "router_settings": {
        "routing_strategy": "fastest", "num_retries": -1, "cooldown_time": "soon",
        "fallbacks": [{"small": ["nope"]}], "context_window_fallbacks": 5,
        "model_group_alias": {"x": "nope", "small": "small"}}})
    assert found == [
        "test.yaml: router_settings.num_retries: must be >= 0, got -1",
        "test.yaml: router_settings.cooldown_time: must be a number, got a string",
        "test.yaml: router_settings.routing_strategy: unknown routing_strategy 'fastest'; "
        "choose one of: latency-based, least-busy, simple-shuffle, usage-based",
        "test.yaml: router_settings.model_group_alias.x: must name a model_name of the "
        "model_list (small), got 'nope'",
        "test.yaml: router_settings.model_group_alias.small: is already a model_name: an "
        "alias would hide it",
        "test.yaml: router_settings.fallbacks: unknown model_name(s): nope (the model_list has "
        "small)",
        "test.yaml: router_settings.context_window_fallbacks: must be a mapping or a list of "
        "one-key mappings, like [{'small': ['large']}]",
    ]
    (late,) = problems({"model_list": [entry()],
                        "router_settings": {"routing_strategy": "latency-based",
                                            "latency_exploration": 2}})
    assert late == "test.yaml: router_settings: latency_exploration must be between 0 and 1"


def test_max_cooldown_time_is_a_positive_finite_number_of_seconds() -> None:
    config = parse_config({"model_list": [entry()],
                           "router_settings": {"max_cooldown_time": 120}}, "c.yaml", environ={})
    assert config.router_settings == {"max_cooldown_time": 120}
    assert make_app({"model_list": [entry()], "router_settings": {"max_cooldown_time": 120}}
                    ).state.router.max_cooldown_time == 120
    assert problems({"model_list": [entry()], "router_settings": {"max_cooldown_time": 0}}) == [
        "test.yaml: router_settings.max_cooldown_time: must be a number of seconds > 0"]
    assert problems({"model_list": [entry()],
                     "router_settings": {"max_cooldown_time": float("inf")}}) == [
        "test.yaml: router_settings: max_cooldown_time must be a positive, finite number of "
        "seconds"]


def test_entry_routing_fields_are_checked_and_applied() -> None:
    found = problems({"model_list": [entry(rpm=0, weight=0, order=1.5, stream_timeout=0)]})
    assert found == [
        "test.yaml: model_list[0].params.stream_timeout: must be a number of seconds > 0",
        "test.yaml: model_list[0].params.rpm: must be a whole number >= 1, got 0",
        "test.yaml: model_list[0].params.weight: must be a number > 0",
        "test.yaml: model_list[0].params.order: must be a whole number >= 1, got 1.5",
    ]
    config = parse_config({"model_list": [entry(
        rpm=60, tpm=1000, weight=2, order=2, timeout=30, stream_timeout=4,
        max_parallel_requests=3)]}, "c.yaml", environ={})
    assert config.warnings == ("c.yaml: model_list[0].params.max_parallel_requests: not "
                               "supported, ignored: use rpm / tpm to limit a deployment",)
    app = make_app({"model_list": [entry(rpm=60, tpm=1000, weight=2, order=2, timeout=30,
                                         stream_timeout=4)]})
    (deployment,) = app.state.router.deployments
    assert (deployment.id, deployment.rpm, deployment.tpm, deployment.weight,
            deployment.order, deployment.timeout, deployment.stream_timeout) == (
        "m#0", 60, 1000, 2.0, 2, 30.0, 4.0)
    assert deployment.params["api_key"] == "k" and "k" not in repr(deployment)


def test_settings_are_the_router_defaults_and_router_settings_win() -> None:
    app = make_app({"model_list": [entry()],
                    "settings": {"num_retries": 4, "request_timeout": 9}})
    router = app.state.router
    assert (router.num_retries, router.timeout) == (4, 9.0)
    app = make_app({"model_list": [entry()], "settings": {"num_retries": 4},
                    "router_settings": {"num_retries": 1, "timeout": 3}})
    assert (app.state.router.num_retries, app.state.router.timeout) == (1, 3.0)
    assert make_app({"model_list": [entry()]}).state.router.num_retries == 2


def test_unusable_deployments_are_left_out_of_the_router() -> None:
    app = make_app({
        "model_list": [
            mock("m", "first"),
            {"model_name": "m", "params": {"model": SMALL, "api_key": "os.environ/NOPE"}},
            {"model_name": "dead", "params": {"model": SMALL, "api_key": "os.environ/NOPE"}}],
        "router_settings": {"fallbacks": [{"m": ["dead"]}, {"dead": ["m"]}],
                            "model_group_alias": {"zombie": "dead"}}})
    assert [d.id for d in app.state.router.deployments] == ["m#0"]
    assert app.state.router.model_names == ["m"]
    report = startup_report(app.state)
    assert ("WARNING: NOPE is not set: model_list[1] (m) left out until it is set and the "
            "proxy restarted (the other deployments of the same model_name serve)") in report
    assert any(line.startswith("WARNING: NOPE is not set: model_list[2] (dead) will answer")
               for line in report)
    assert ("WARNING: router_settings.fallbacks: dead cannot be served (see above), left out "
            "of 'm''s fallbacks") in report


async def test_names_without_a_usable_deployment_answer_503() -> None:
    app = make_app({
        "model_list": [mock("m"), {"model_name": "dead", "params": {
            "model": SMALL, "api_key": "os.environ/NOPE"}}],
        "router_settings": {"model_group_alias": {"zombie": "dead", "alias": "m"}}})
    for name in ("dead", "zombie"):
        answer = await call(app, "POST", CHAT, {"model": name, "messages": HELLO})
        assert answer.status == 503, name
        assert answer.error()["code"] == "deployment_not_configured"
        assert f"model `{name}` cannot be served: NOPE is not set" in answer.error()["message"]
    ok = await call(app, "POST", CHAT, {"model": "alias", "messages": HELLO})
    assert (ok.status, ok.headers["x-gatewise-model-id"]) == (200, "m#0")
    models = (await call(app, "GET", "/v1/models")).json()
    assert [m["id"] for m in models["data"]] == ["m", "dead", "zombie", "alias"]


async def test_no_usable_deployment_at_all() -> None:
    app = make_app({"model_list": [
        {"model_name": "dead", "params": {"model": SMALL, "api_key": "os.environ/NOPE"}}]})
    answer = await call(app, "POST", CHAT, {"model": "dead", "messages": HELLO})
    assert (answer.status, answer.error()["code"]) == (503, "deployment_not_configured")
    health = (await call(app, "GET", "/health")).json()
    assert health["unhealthy_endpoints"][0]["status"] == "unavailable"


@pytest.mark.parametrize(("field", "value"), [
    ("fallbacks", 5), ("fallbacks", [None]), ("fallbacks", ["nope"]),
    ("context_window_fallbacks", {"m": 3}), ("content_policy_fallbacks", "nope"),
    ("num_retries", -1), ("max_retries", "2"), ("timeout", 0), ("stream_timeout", "x"),
    ("request_timeout", []), ("mock_response", []), ("mock_response", {"a": 1}),
    ("api_key", "k"), ("base_url", "http://x"), ("custom_llm_provider", "openai"),
    ("self", 1),
])
async def test_per_call_router_options_are_checked(mock_app: ProxyApp, field: str,
                                                   value: Any) -> None:
    answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": HELLO,
                                                 field: value})
    assert answer.status == 400, answer.body
    assert answer.error()["param"] in (field, "fallbacks", "timeout", "num_retries")


async def test_an_embedding_field_named_self_is_a_400(mock_app: ProxyApp) -> None:
    answer = await call(mock_app, "POST", "/v1/embeddings", {"model": "embed", "input": "x",
                                                             "self": 1})
    assert (answer.status, answer.error()["param"]) == (400, "self")


async def test_per_call_fallbacks_work_through_the_proxy() -> None:
    app = make_app({"model_list": [entry("down", api_base="http://127.0.0.1:9/v1"),
                                   mock("b", "from b")]})
    try:
        answer = await call(app, "POST", CHAT, {"model": "down", "messages": HELLO,
                                                "fallbacks": ["b"], "num_retries": 0})
    finally:
        await app.state.aclose()
    assert answer.status == 200, answer.body
    assert answer.json()["choices"][0]["message"]["content"] == "from b"
    assert (answer.headers["x-gatewise-model-id"], answer.headers["x-gatewise-attempted-retries"],
            answer.headers["x-gatewise-attempted-fallbacks"]) == ("b#0", "0", "1")
    assert answer.headers["x-gatewise-response-cost"] == "0"
