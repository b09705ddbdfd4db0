"""The upstream API key and the master key never leave the proxy: not in its logs (at the
most verbose level, access log on), not in any answer's body or headers -- even when the
upstream echoes the key back -- not in ``/health``, ``/models`` or ``/openapi.json``, not
in the ``repr()`` of what the proxy holds.  A missing and a wrong master key get the same
answer, byte for byte, on every route that needs it, after the same constant-time work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewise.proxy import _secret
from gatewise.proxy.config import parse_config
from gatewise.proxy.errors import ProxyError
from tests._net import refused_port
from tests.fake_mistral import (
    BadEvent,
    Behavior,
    CutStream,
    Delay,
    FakeMistral,
    Garbage,
    Status,
)
from tests.proxy._server import Proxy, run_proxy_with, stop
from tests.proxy.conftest import HELLO, make_app

UPSTREAM_KEY = "sk-upstream-QX7TZ3-gatewise-test"
MASTER_KEY = "sk-master-K9W2VD-gatewise-test"
ORG_SECRET = "Zr5Wq8Nv3Ty6Pu1"  # a deployment's extra_headers value
MARKERS = (UPSTREAM_KEY, MASTER_KEY, "QX7TZ3", "K9W2VD")  # also a key cut short
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def config(fake: FakeMistral) -> dict[str, Any]:
    def entry(name: str, base: str, model: str = "mistral-small-latest", **params: Any
              ) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {
            "model": f"mistral/{model}", "api_base": base, "max_retries": 0, **params}}

    own_key = {"api_key": "os.environ/MISTRAL_API_KEY"}
    return {
        "model_list": [
            entry("small", fake.base_url, **own_key),
            entry("embed", fake.base_url, "mistral-embed", **own_key),
            entry("default-key", fake.base_url),  # MISTRAL_API_KEY without os.environ/
            entry("refused", f"http://127.0.0.1:{refused_port()}/v1", **own_key),
            entry("org", fake.base_url, **own_key, extra_headers={"X-Org-Secret": ORG_SECRET}),
        ],
        "settings": {"request_timeout": 0.5, "num_retries": 0},
        "general_settings": {"master_key": "os.environ/GATEWISE_MASTER_KEY"},
    }


@pytest.fixture
def proxy(fake_mistral: FakeMistral, tmp_path: Path) -> Iterator[Proxy]:
    """A proxy of its own for each test: the test may stop it to read all it wrote."""
    env = {"MISTRAL_API_KEY": UPSTREAM_KEY, "GATEWISE_MASTER_KEY": MASTER_KEY}
    with run_proxy_with(config(fake_mistral), tmp_path, env,
                        args=("--log-level", "trace", "--access-log")) as server:
        yield server


ECHOES: list[Behavior] = [
    Status(401, body={"detail": f"Unauthorized: API key {UPSTREAM_KEY} is not valid"}),
    Status(400, body={"object": "error", "type": "invalid_request_error", "param": None,
                      "code": None, "message": f"bad key {UPSTREAM_KEY}"}),
    Status(422, body={"detail": [{"type": "x", "loc": ["body", UPSTREAM_KEY],
                                  "msg": UPSTREAM_KEY, "input": UPSTREAM_KEY}]}),
    Status(429, body={"message": f"rate limit exceeded for {UPSTREAM_KEY}"},
           headers={"Retry-After": "1"}),
    Status(500, body=f"internal error while serving {UPSTREAM_KEY}".encode()),
    Status(503, body=f"<html>{UPSTREAM_KEY}</html>".encode()),
    Garbage(f"<html>{UPSTREAM_KEY}".encode()),
    Garbage(f'{{"id": "{UPSTREAM_KEY}", "choices": [{{"mess'.encode()),
    Garbage(f"data: {UPSTREAM_KEY}\n\n".encode(), content_type="text/event-stream"),
    Delay(3),
    CutStream(after_events=2),
    BadEvent(after_events=2),
]


def test_no_key_leaves_on_any_path(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    """Every error path, then the whole of the proxy's output."""
    answers: list[httpx.Response] = []
    fake_mistral.api_keys = {UPSTREAM_KEY}
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        def chat(model: str = "small", headers: dict[str, str] = AUTH, **body: Any) -> None:
            payload = {"model": model, "messages": HELLO, **body}
            answers.append(client.post("/v1/chat/completions", json=payload, headers=headers))

        for behavior in ECHOES:
            for stream in (False, True):
                fake_mistral.script(behavior)
                chat(stream=stream)
        for model in ("default-key", "embed"):
            fake_mistral.script(ECHOES[0])
            if model == "embed":
                answers.append(client.post("/v1/embeddings", headers=AUTH,
                                           json={"model": model, "input": "x"}))
            else:
                chat(model)
        fake_mistral.api_keys = {"another-key"}  # the upstream rejects ours
        chat()
        chat(stream=True)
        chat("default-key")
        fake_mistral.api_keys = {UPSTREAM_KEY}
        for model in ("refused", "no-such-model"):
            chat(model)
            chat(model, stream=True)
        for refusal in ({}, {"authorization": "Bearer wrong"},
                        {"authorization": f"Bearer {MASTER_KEY}x"},
                        {"authorization": f"Basic {MASTER_KEY}"}):
            chat(headers=refusal)
        bad: list[dict[str, Any]] = [
            {"temperature": "hot"}, {"logprobs": True}, {"api_key": UPSTREAM_KEY},
            {"messages": []}, {"stream": "yes"}, {"n": -1}]
        for fields in bad:
            chat(**fields)
        answers.append(client.post("/v1/chat/completions", content=b"{oops", headers=AUTH))
        answers.append(client.put("/v1/chat/completions", headers=AUTH))
        answers.append(client.get("/v1/nothing-here", headers=AUTH))
        fake_mistral.script(ECHOES[0], ECHOES[4], ECHOES[0], ECHOES[0])
        for path in ("/health?probe=true", "/health", "/health/readiness", "/v1/models",
                     "/v1/models/small", "/v1/models/nope", "/openapi.json"):
            answers.append(client.get(path, headers=AUTH))
    assert len(answers) > 40
    assert {a.status_code for a in answers} >= {200, 400, 401, 404, 405, 422, 429, 500, 502,
                                                503, 504}
    for answer in answers:
        shown = answer.text + "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
        assert not leaks(shown), (answer.request.url, shown[:500])
    assert stop(proxy) == 0
    output = proxy.output()
    assert "upstream provider rejected" in output  # the 401s were logged...
    assert "TRACE" in output or "DEBUG" in output  # ...at the most verbose level
    assert not leaks(output), [line for line in output.splitlines() if leaks(line)][:5]


def _pieces(secret: str, width: int = 10) -> list[str]:
    """Every piece of ``width`` characters of ``secret`` (what a cut leaves), lower case."""
    return [secret[i:i + width].lower() for i in range(len(secret) - width + 1)]


def _cut_at_2000(secret: str) -> str:
    return "x" * (2000 - len(secret) // 2) + secret + " and more"


def test_every_configured_secret_is_scrubbed_in_any_case_before_any_cut(
        proxy: Proxy, fake_mistral: FakeMistral) -> None:
    """A deployment's extra header value, its key in upper case, a key across the 2,000
    characters an upstream message is cut to, the master key: none of them in an answer or
    in the log (where the 5xx are logged at WARNING)."""
    fake_mistral.api_keys = {UPSTREAM_KEY}
    echoes = [
        Status(500, body={"message": f"rejected X-Org-Secret: {ORG_SECRET}, Authorization: "
                                     f"BEARER {UPSTREAM_KEY.upper()}"}),
        Status(500, body={"message": _cut_at_2000(UPSTREAM_KEY)}),
        Status(502, body=_cut_at_2000(ORG_SECRET.lower()).encode()),
        Status(503, body={"message": f"your key {MASTER_KEY.swapcase()} was echoed"}),
        Status(400, body={"message": _cut_at_2000(MASTER_KEY)}),
        Status(422, body={"detail": [{"type": "x", "loc": ["body", ORG_SECRET],
                                      "msg": "bad", "input": _cut_at_2000(UPSTREAM_KEY)}]}),
    ]
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for behavior in echoes:
            for stream in (False, True):
                fake_mistral.script(behavior)
                answers.append(client.post("/v1/chat/completions", headers=AUTH, json={
                    "model": "org", "messages": HELLO, "stream": stream}))
    assert {a.status_code for a in answers} == {400, 422, 500, 502, 503}
    assert stop(proxy) == 0
    output = proxy.output()
    assert "WARNING" in output and "***" in output
    seen = ("\n".join(a.text for a in answers) + output).lower()
    for secret in (ORG_SECRET, UPSTREAM_KEY, MASTER_KEY):
        assert not [p for p in _pieces(secret) if p in seen], secret


def test_missing_and_wrong_keys_get_the_same_answer_everywhere(proxy: Proxy) -> None:
    routes = [("POST", "/v1/chat/completions", {"model": "small", "messages": HELLO}),
              ("POST", "/v1/embeddings", {"model": "embed", "input": "x"}),
              ("GET", "/v1/models", None), ("GET", "/v1/models/small", None),
              ("GET", "/models/nope", None), ("GET", "/openapi.json", None),
              ("GET", "/health?probe=true", None)]
    refusals = [{}, {"authorization": "Bearer wrong"}, {"authorization": "Bearer"},
                {"authorization": f"Bearer {MASTER_KEY[:-1]}"},
                {"authorization": f"Bearer {MASTER_KEY}{MASTER_KEY}"},
                {"authorization": f"Basic {MASTER_KEY}"}, {"authorization": MASTER_KEY},
                {"x-api-key": MASTER_KEY[:-1]}, {"api-key": "wrong"},
                {"x-api-key": f"Bearer {MASTER_KEY}"},
                {"authorization": "Bearer wrong", "x-api-key": MASTER_KEY}]
    seen = set()
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for method, path, body in routes:
            for headers in refusals:
                answer = client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (path, headers)
                seen.add((answer.status_code, answer.content,
                          answer.headers["content-type"], answer.headers["content-length"]))
    assert len(seen) == 1, seen


def test_the_master_key_is_accepted_in_the_headers_other_clients_use(
        proxy: Proxy, fake_mistral: FakeMistral) -> None:
    """Anthropic-style clients send ``x-api-key``, Azure-style ones ``api-key``."""
    fake_mistral.api_keys = {UPSTREAM_KEY}
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for name in ("x-api-key", "api-key", "authorization"):
            value = f"Bearer {MASTER_KEY}" if name == "authorization" else MASTER_KEY
            answer = client.post("/v1/chat/completions", headers={name: value},
                                 json={"model": "small", "messages": HELLO})
            assert answer.status_code == 200, (name, answer.text)
            assert client.get("/v1/models", headers={name: value}).status_code == 200


def test_websocket_upgrades_get_plain_http_answers_and_log_no_header(proxy: Proxy) -> None:
    """No route serves WebSockets, so the server has them off: an upgrade request is
    answered as the HTTP request it also is (never a 500), and nothing logs its headers --
    at the most verbose level, the master key among them."""
    upgrade = {"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
               "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
    cases = [("GET", "/v1/nothing", AUTH, 404), ("GET", "/ws", {}, 404),
             ("GET", "/v1/models", AUTH, 200), ("GET", "/v1/models", {}, 401),
             ("GET", "/health/liveness", {}, 200), ("POST", "/v1/chat/completions", AUTH, 400)]
    for method, path, headers, status in cases:
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            answer = client.request(method, path, headers={**upgrade, **headers})
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["connection"] == "close"
    assert stop(proxy) == 0
    output = proxy.output()
    assert "TRACE" in output
    assert not leaks(output), [line for line in output.splitlines() if leaks(line)][:5]
    assert "sec-websocket" not in output.lower() and "Traceback" not in output
    # (the startup line naming the database shows the test's folder, named after the test)
    said = "\n".join(line for line in output.splitlines() if not line.startswith("database:"))
    assert "upgrade" not in said.lower(), said[-2000:]


# -- in process --------------------------------------------------------------------------------

def test_keys_are_read_once_and_held_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"MISTRAL_API_KEY": UPSTREAM_KEY, "GATEWISE_MASTER_KEY": MASTER_KEY}
    monkeypatch.setenv("MISTRAL_API_KEY", UPSTREAM_KEY)
    fake = {"model_list": [
        {"model_name": "own", "params": {"model": "mistral/mistral-small-latest",
                                         "api_key": "os.environ/MISTRAL_API_KEY"}},
        {"model_name": "default", "params": {"model": "mistral/mistral-small-latest"}}]}
    app = make_app(fake, environ)
    environ["MISTRAL_API_KEY"] = "changed"
    monkeypatch.setenv("MISTRAL_API_KEY", "changed")
    state = app.state
    for deployment in state.deployments:
        assert isinstance(deployment.api_key, _secret.Secret)
        assert deployment.api_key.reveal() == UPSTREAM_KEY  # read at startup, not per call
    assert isinstance(state.master_key, _secret.Secret)
    assert state.master_key.reveal() == MASTER_KEY

    router = state.router
    holders: list[Any] = [state, state.config, *state.config.deployments, *state.deployments,
                          router, *router.deployments, state.client, state.master_key,
                          *(d.api_key for d in state.deployments)]
    for holder in holders:
        assert not leaks(repr(holder) + str(holder)), holder
    assert not leaks(f"{state.master_key} {state.master_key!r} {state.master_key!s}")


def test_the_master_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is sent (nothing, short, long, almost right), the comparison is
    ``hmac.compare_digest`` on two 32-byte digests: neither the key's length nor how much
    of it a guess gets right changes the work done.  The right key itself is found by a set
    lookup (by its hash, keyed per process), before and after any wrong guess."""
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    app = make_app({"model_list": [{"model_name": "m", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "x"}}]},
        {"GATEWISE_MASTER_KEY": MASTER_KEY})
    attempts = [None, b"", b"Bearer ", b"Bearer x", b"Bearer " + MASTER_KEY.encode()[:-1],
                b"Bearer " + MASTER_KEY.encode() * 50, b"Bearer " + MASTER_KEY.encode() + b"x"]
    right = b"Bearer " + MASTER_KEY.encode()
    for value in [right, *attempts, right]:
        scope = {"headers": [] if value is None else [(b"authorization", value)]}
        if value == right:
            app.state.access.identify(scope)
        else:
            with pytest.raises(ProxyError, match="missing or invalid API key"):
                app.state.access.identify(scope)
    # Each wrong attempt is compared in full; the right key never needs to be.
    assert compared == [(32, 32)] * len(attempts)
    with pytest.raises(ProxyError, match="missing or invalid API key"):
        app.state.access.identify(
            {"headers": [(b"authorization", b"Basic " + MASTER_KEY.encode())]})


def test_the_environment_is_not_needed_after_startup() -> None:
    """``parse_config`` copies what it needs: a later change of the environment does not
    reach the config."""
    environ = {"K": UPSTREAM_KEY}
    config = parse_config({"model_list": [{"model_name": "m", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "os.environ/K"}}]}, "t.yaml",
        environ=environ)
    environ["K"] = "changed"
    key = config.deployments[0].api_key
    assert key is not None and key.reveal() == UPSTREAM_KEY
    assert UPSTREAM_KEY not in repr(config)
    assert os.environ.get("K") != UPSTREAM_KEY


def test_a_secret_matches_its_digest_in_constant_time_and_nothing_else() -> None:
    secret = _secret.Secret("sk-the-master-key")
    assert secret.is_exactly(b"sk-the-master-key") and not secret.is_exactly(b"sk-other")
    assert secret.matches_digest(hashlib.sha256(b"sk-the-master-key").digest())
    assert not secret.matches_digest(hashlib.sha256(b"sk-the-master-ke").digest())
    assert secret.matches(b"sk-the-master-key") and not secret.matches(b"")
