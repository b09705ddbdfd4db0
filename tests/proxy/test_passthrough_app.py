"""``/mistral/{path}`` straight into the ASGI app, against the fake: what crosses (method,
path, query, body, headers), what never does (the client's credentials, hop-by-hop
headers), answers and errors as they are, the cost of a JSON answer, and the config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from gatewise import get_model_info
from gatewise.proxy.app import ProxyApp
from gatewise.proxy.config import ConfigError, parse_config
from tests.fake_mistral import FakeMistral, Status
from tests.proxy._checks import sse_data
from tests.proxy._media import BOUNDARY, FORM_TYPE, media_config, pieces
from tests.proxy.conftest import call, make_app

MASTER = "sk-proxy-master-1234"
HELLO = [{"role": "user", "content": "hello agent"}]


def config(fake: FakeMistral, **general: Any) -> dict[str, Any]:
    return media_config(fake, master_key=MASTER, **general)


@pytest.fixture
async def app(fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    app = make_app(config(fake_mistral))
    yield app
    await app.state.aclose()


def auth(**more: str) -> dict[str, str]:
    return {"authorization": f"Bearer {MASTER}", **more}


def upload_form(data: bytes, purpose: str = "batch") -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f"{purpose}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f'filename="batch.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n').encode() + (
        data + f"\r\n--{BOUNDARY}--\r\n".encode())


async def test_files_upload_then_list(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    lines = b'{"custom_id": "0", "body": {"messages": []}}\n' * 2000
    body = upload_form(lines)
    created = await call(app, "POST", "/mistral/v1/files", body_parts=pieces(body, 7000),
                         headers=auth(**{"content-type": FORM_TYPE,
                                         "content-length": str(len(body))}))
    assert created.status == 200, created.body
    assert created.json()["bytes"] == len(lines) and created.json()["purpose"] == "batch"
    listed = await call(app, "GET", "/v1/mistral/v1/files", headers=auth(),
                        query=b"purpose=batch&page_size=10")
    assert listed.status == 200 and listed.json()["total"] == 1
    assert listed.headers["content-type"].startswith("application/json")
    get = fake_mistral.requests[-1]
    assert (get.method, get.path) == ("GET", "/v1/files")
    for request in fake_mistral.requests:  # the proxy's key never reaches Mistral
        assert request.headers["Authorization"] == "Bearer test-key"
        assert MASTER not in str(dict(request.headers))


async def test_batch_job_create_and_get(app: ProxyApp) -> None:
    created = await call(app, "POST", "/mistral/v1/batch/jobs", headers=auth(), json={
        "endpoint": "/v1/chat/completions", "model": "mistral-small-latest",
        "requests": [{"custom_id": "0", "body": {"messages": HELLO}}]})
    assert created.status == 200, created.body
    job = created.json()
    got = await call(app, "GET", f"/mistral/v1/batch/jobs/{job['id']}", headers=auth())
    assert got.status == 200 and got.json() == job
    missing = await call(app, "GET", "/mistral/v1/batch/jobs/nope", headers=auth())
    assert missing.status == 404 and missing.json() == {"detail": "Batch job not found"}


async def test_agents_completion_with_its_cost(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/mistral/v1/agents/completions", headers=auth(),
                        json={"agent_id": "ag-1", "messages": HELLO})
    assert answer.status == 200, answer.body
    usage = answer.json()["usage"]
    info = get_model_info("mistral/mistral-small-latest")
    assert info.input_cost_per_token and info.output_cost_per_token
    cost = (usage["prompt_tokens"] * info.input_cost_per_token
            + usage["completion_tokens"] * info.output_cost_per_token)
    assert float(answer.headers["x-gatewise-response-cost"]) == pytest.approx(cost)


async def test_agents_completion_stream_flows_through(app: ProxyApp,
                                                      fake_mistral: FakeMistral) -> None:
    fake_mistral.stream_delay = 0.02
    answer = await call(app, "POST", "/mistral/v1/agents/completions", headers=auth(),
                        json={"agent_id": "ag-1", "messages": HELLO, "stream": True})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse_data(answer.body)
    assert events[-1] == b"[DONE]" and len(answer.chunks) > 2  # relayed, not gathered
    assert orjson.loads(events[-2])["usage"]["total_tokens"] > 0


async def test_upstream_errors_pass_as_they_are(app: ProxyApp,
                                                fake_mistral: FakeMistral) -> None:
    invalid = await call(app, "POST", "/mistral/v1/agents/completions", headers=auth(),
                         json={"agent_id": "ag-1", "messages": HELLO, "bogus": 1})
    assert invalid.status == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "bogus"]
    fake_mistral.script(Status(400, body={"message": "your key test-key is odd"}))
    echoed = await call(app, "GET", "/mistral/v1/files", headers=auth())
    assert echoed.status == 400 and echoed.json() == {"message": "your key *** is odd"}
    unknown = await call(app, "DELETE", "/mistral/v1/nowhere", headers=auth())
    assert unknown.status == 404 and unknown.json() == {"detail": "Not Found"}


async def test_headers_that_must_not_cross(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    answer = await call(app, "GET", "/mistral/v1/files", headers=auth(**{
        "x-api-key": MASTER, "api-key": MASTER, "connection": "keep-alive, x-private",
        "x-private": "1", "keep-alive": "timeout=5", "te": "trailers",
        "proxy-authorization": "Basic eA==", "x-trace": "abc", "host": "proxy.local"}))
    assert answer.status == 200
    headers = fake_mistral.requests[-1].headers
    for name in ("x-api-key", "api-key", "x-private", "keep-alive", "te",
                 "proxy-authorization"):
        assert name not in headers, name
    assert headers["x-trace"] == "abc" and headers["Host"] != "proxy.local"


async def test_the_proxy_key_is_checked_first(app: ProxyApp,
                                              fake_mistral: FakeMistral) -> None:
    answer = await call(app, "GET", "/mistral/v1/files")
    assert answer.status == 401 and answer.error()["code"] == "invalid_api_key"
    assert fake_mistral.requests == []


async def test_no_stepping_out(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    for path in ("/mistral/../v1/files", "/mistral/v1/%2e%2e/x"):
        answer = await call(app, "GET", path, headers=auth())
        assert answer.status == 400, path
    assert fake_mistral.requests == []


async def test_a_configured_target(fake_mistral: FakeMistral) -> None:
    root = fake_mistral.base_url.removesuffix("/v1")
    app = make_app(config(fake_mistral, pass_through_endpoints=[{
        "path": "/mistral", "target": root,
        "headers": {"Authorization": "Bearer os.environ/PT_KEY", "x-team": "blue"}}]),
        environ={"PT_KEY": "test-key"})
    answer = await call(app, "GET", "/mistral/v1/files", headers=auth())
    assert answer.status == 200
    sent = fake_mistral.requests[-1].headers
    assert sent["Authorization"] == "Bearer test-key" and sent["x-team"] == "blue"
    assert "test-key" not in repr(app.state.pass_through)
    await app.state.aclose()


async def test_nowhere_to_go(fake_mistral: FakeMistral) -> None:
    app = make_app({"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "hi"}}]})
    answer = await call(app, "GET", "/mistral/v1/files")
    assert answer.status == 503 and answer.error()["code"] == "pass_through_not_configured"
    await app.state.aclose()


@pytest.mark.parametrize(("entry", "problem"), [
    ({"path": "/cohere", "target": "https://api.cohere.com"}, "only /mistral"),
    ({"path": "/mistral"}, "target: required"),
    ({"path": "/mistral", "target": "ftp://x"}, "http(s) URL"),
    ({"path": "/mistral", "target": "https://x", "headers": {"Authorization":
                                                             "Bearer os.environ/UNSET_KEY"}},
     "UNSET_KEY is not set"),
    ({"path": "/mistral", "target": "https://x", "headers": "Authorization: x"},
     "mapping of header names"),
])
def test_config_problems(entry: dict[str, Any], problem: str) -> None:
    data = {"model_list": [{"model_name": "m", "params": {"model": "mistral/m"}}],
            "general_settings": {"pass_through_endpoints": [entry]}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml", environ={})
    assert problem in str(info.value)
    assert "general_settings.pass_through_endpoints[0]" in str(info.value)


def test_max_audio_upload_bytes_is_checked() -> None:
    data = {"model_list": [{"model_name": "m", "params": {"model": "mistral/m"}}],
            "general_settings": {"max_audio_upload_bytes": 0}}
    with pytest.raises(ConfigError, match="max_audio_upload_bytes"):
        parse_config(data, "test.yaml", environ={})
    data["general_settings"] = {"max_audio_upload_bytes": "1048576"}
    assert parse_config(data, "test.yaml", environ={}).max_audio_upload_bytes == 1048576


async def test_timeouts_and_an_unreachable_target(fake_mistral: FakeMistral) -> None:
    from tests._net import free_port
    from tests.fake_mistral import Delay

    slow = config(fake_mistral)
    slow["settings"] = {"request_timeout": 0.3}
    app = make_app(slow)
    fake_mistral.script(Delay(2))
    answer = await call(app, "GET", "/mistral/v1/files", headers=auth())
    assert answer.status == 504 and answer.error()["type"] == "timeout"
    assert answer.headers["x-gatewise-call-id"]
    await app.state.aclose()
    gone = make_app(config(fake_mistral, pass_through_endpoints=[{
        "path": "/mistral", "target": f"http://127.0.0.1:{free_port()}",
        "headers": {"Authorization": "Bearer sk-unreachable-12345"}}]))
    answer = await call(gone, "GET", "/mistral/v1/files", headers=auth())
    assert answer.status == 502 and answer.error()["code"] == "upstream_unreachable"
    assert "sk-unreachable-12345" not in answer.body.decode()
    await gone.state.aclose()


async def test_a_dropped_connection_is_a_502(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    from tests.fake_mistral import CutStream

    fake_mistral.script(CutStream(0))
    answer = await call(app, "POST", "/mistral/v1/agents/completions", headers=auth(),
                        json={"agent_id": "ag-1", "messages": HELLO})
    assert answer.status == 502 and answer.error()["type"] == "api_connection_error"
