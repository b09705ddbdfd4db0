"""Who may do what: the master key in any of the headers clients send it in, and what
``/health`` tells a caller without it (in process; ``test_e2e`` and ``test_secrets`` check
the same through the CLI)."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise.proxy.access.control import presented_key
from tests.proxy.conftest import HELLO, call, make_app

CHAT = "/v1/chat/completions"
MASTER = "sk-master-123"
DEMO: dict[str, Any] = {"model_name": "demo", "params": {
    "model": "mistral/mistral-small-latest", "mock_response": "ok"}}
HIDDEN = {"model_name": "internal", "params": {
    "model": "mistral/mistral-small-latest", "api_key": "sk-upstream-456",
    "api_base": "http://10.1.2.3:8080/v1"}}
UNSET = {"model_name": "unset", "params": {
    "model": "mistral/mistral-small-latest", "api_key": "os.environ/SECRET_VARIABLE_NAME"}}
READINESS_KEYS = {"status", "version", "deployments", "usable_deployments"}


@pytest.mark.parametrize("headers", [
    {"authorization": f"Bearer {MASTER}"}, {"authorization": f"bearer  {MASTER} "},
    {"x-api-key": MASTER}, {"api-key": MASTER}, {"X-Api-Key": f" {MASTER}"},
    {"authorization": f"Basic {MASTER}", "api-key": MASTER},
], ids=["bearer", "bearer-lower-spaced", "x-api-key", "api-key", "x-api-key-cased",
        "basic-then-api-key"])
async def test_the_master_key_is_taken_from_any_usual_header(headers: dict[str, str]) -> None:
    app = make_app({"general_settings": {"master_key": MASTER}, "model_list": [DEMO]})
    assert (await call(app, "POST", CHAT, {"model": "demo", "messages": HELLO},
                       headers=headers)).status == 200
    assert (await call(app, "GET", "/v1/models", headers=headers)).status == 200


@pytest.mark.parametrize("headers", [
    {}, {"x-api-key": "wrong"}, {"api-key": MASTER[:-1]}, {"x-api-key": ""},
    {"authorization": "Bearer wrong", "x-api-key": MASTER},  # a bearer token is the key sent
    {"x-api-key": f"Bearer {MASTER}"}, {"api-key": f"{MASTER}x"},
])
async def test_a_wrong_key_in_any_header_gets_the_same_401(headers: dict[str, str]) -> None:
    app = make_app({"general_settings": {"master_key": MASTER}, "model_list": [DEMO]})
    answer = await call(app, "POST", CHAT, {"model": "demo", "messages": HELLO},
                        headers=headers)
    plain = await call(app, "POST", CHAT, {"model": "demo", "messages": HELLO})
    assert answer.status == 401
    assert (answer.body, answer.headers) == (plain.body, plain.headers)


def test_the_presented_key() -> None:
    def key(*headers: tuple[bytes, bytes]) -> bytes:
        return presented_key({"headers": list(headers)})

    assert key() == b""
    assert key((b"authorization", b"Bearer k1"), (b"x-api-key", b"k2")) == b"k1"
    assert key((b"x-api-key", b"k2"), (b"authorization", b"Bearer k1")) == b"k1"
    assert key((b"authorization", b"Basic k1"), (b"x-api-key", b"k2")) == b"k2"
    assert key((b"api-key", b"k3"), (b"x-api-key", b"k2")) == b"k3"
    assert key((b"authorization", b"k1")) == b""


# -- /health -----------------------------------------------------------------------------------

async def test_health_without_the_master_key_tells_only_readiness() -> None:
    app = make_app({"general_settings": {"master_key": MASTER},
                    "model_list": [DEMO, HIDDEN, UNSET]})
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "wrong"}):
        answer = await call(app, "GET", "/health", headers=headers)
        assert answer.status == 200
        assert answer.json() == (await call(app, "GET", "/health/readiness")).json()
        assert set(answer.json()) == READINESS_KEYS
        for secret in ("10.1.2.3", "mock", "SECRET_VARIABLE_NAME", "internal", "in_flight"):
            assert secret not in answer.body.decode()
    for headers in ({"authorization": f"Bearer {MASTER}"}, {"api-key": MASTER}):
        detailed = (await call(app, "GET", "/health", headers=headers)).json()
        assert detailed["healthy_count"] == 2
        assert detailed["unhealthy_endpoints"][0]["error"] == "SECRET_VARIABLE_NAME is not set"
        assert {e["api_base"] for e in detailed["healthy_endpoints"]} == {
            None, "http://10.1.2.3:8080/v1"}


async def test_health_is_detailed_for_anyone_without_a_master_key() -> None:
    app = make_app({"model_list": [DEMO, HIDDEN]})
    assert (await call(app, "GET", "/health")).json()["healthy_count"] == 2


async def test_readiness_is_503_when_no_deployment_can_serve() -> None:
    app = make_app({"model_list": [UNSET]})
    answer = await call(app, "GET", "/health/readiness")
    assert answer.status == 503
    assert answer.json() == {"status": "not_ready", "version": app.state.version,
                             "deployments": 1, "usable_deployments": 0}
    ready = make_app({"model_list": [UNSET, DEMO]})
    answer = await call(ready, "GET", "/health/readiness")
    assert (answer.status, answer.json()["status"], answer.json()["usable_deployments"]) == (
        200, "ready", 1)


async def test_a_stranger_asking_an_unready_proxy_for_health_gets_503() -> None:
    app = make_app({"general_settings": {"master_key": MASTER}, "model_list": [UNSET]})
    answer = await call(app, "GET", "/health")
    assert (answer.status, answer.json()["status"]) == (503, "not_ready")
