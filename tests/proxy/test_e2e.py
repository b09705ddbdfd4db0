"""The real CLI in a subprocess against the fake Mistral server, driven by curl, the
``openai`` package and ``langchain-openai``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fake_mistral import CutStream, FakeMistral, Status
from tests.proxy._checks import assert_nothing_in_flight
from tests.proxy._server import EXAMPLE_CONFIG, ISSUE_CONFIG, Proxy, client, run_proxy
from tests.proxy.conftest import HELLO

MODEL = "mistral-small-latest"
MASTER_KEY = "sk-e2e-master"
WEATHER_TOOL: Any = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def _env(fake: FakeMistral, **extra: str) -> dict[str, str]:
    return {"MISTRAL_API_KEY": "test-key", "MISTRAL_API_BASE": fake.base_url, **extra}


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    """The issue's config, unchanged."""
    workdir = tmp_path_factory.mktemp("proxy")
    (workdir / "config.yaml").write_text(ISSUE_CONFIG)
    with run_proxy(["--config", "config.yaml"], workdir, _env(_fake_server)) as server:
        yield server


@pytest.fixture(scope="module")
def example_proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Proxy]:
    """The README's example config, with a master key."""
    workdir = tmp_path_factory.mktemp("example")
    # (its database in the test's folder, not next to the example in the repository)
    env = _env(_fake_server, GATEWISE_MASTER_KEY=MASTER_KEY,
               DATABASE_URL=f"sqlite:///{workdir / 'gatewise.db'}")
    with run_proxy(["--config", str(EXAMPLE_CONFIG)], workdir, env) as server:
        yield server


def aclient(proxy: Proxy, key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0)


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", *args], check=True, capture_output=True, text=True,
                          timeout=20).stdout


# -- startup --------------------------------------------------------------------------------

def test_startup_says_where_and_what(proxy: Proxy) -> None:
    output = proxy.output()
    assert f"gatewise 0.1.0 listening on {proxy.url}" in output
    assert "serving models: mistral-small-latest" in output
    assert "NO MASTER KEY" in output
    assert "Traceback" not in output
    assert proxy.started_in < 5


def test_a_bad_config_exits_2_with_the_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("model_list:\n  - model_name: x\n    params: {}\n")
    result = subprocess.run(
        [sys.executable, "-m", "gatewise", "--config", "bad.yaml", "--port", "0"], check=False,
        cwd=tmp_path,
        capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "bad.yaml: model_list[0].params.model: required" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_typos_are_named_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(
        "model_list:\n  - model_name: small\n    litellm_params:\n"
        "      model: mistral/mistral-small-latest\n"
        "      api_kye: os.environ/MISTRAL_API_KEY\n"
        "litellm_settings:\n  drop_parms: true\n")
    env = {k: v for k, v in os.environ.items() if k != "MISTRAL_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "gatewise", "--config", "typo.yaml", "--port", "0"],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr == (
        "gatewise: the config cannot be used:\n"
        "  typo.yaml: litellm_settings.drop_parms: unknown key (did you mean 'drop_params'?)\n"
        "  typo.yaml: model_list[0].litellm_params.api_kye: unknown key (did you mean "
        "'api_key'?)\n")


# -- curl -----------------------------------------------------------------------------------

@needs_curl
def test_curl_chat(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    out = curl("-i", proxy.url + "/v1/chat/completions", "-H", "content-type: application/json",
               "-d", json.dumps({"model": MODEL, "messages": HELLO}))
    head, _, body = out.partition("\n\n")  # text mode turned \r\n into \n
    assert head.startswith("HTTP/1.1 200")
    headers = dict(line.lower().split(": ", 1) for line in head.splitlines()[1:] if line)
    assert headers["x-gatewise-model-id"] == "mistral-small-latest#0"
    assert float(headers["x-gatewise-response-cost"]) > 0
    assert float(headers["x-gatewise-overhead-ms"]) < 100
    assert len(headers["x-gatewise-call-id"]) == 32
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == "Hello from the fake Mistral server."
    assert fake_mistral.requests[-1].headers["authorization"] == "Bearer test-key"


@needs_curl
def test_curl_stream(proxy: Proxy) -> None:
    out = curl("-N", proxy.url + "/chat/completions",
               "-d", json.dumps({"model": MODEL, "messages": HELLO, "stream": True}))
    events = [e for e in out.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e[6:])["choices"])
    assert text == "Hello from the fake Mistral server."


# -- openai ---------------------------------------------------------------------------------

def test_openai_sync(proxy: Proxy) -> None:
    completion = client(proxy).chat.completions.create(model=MODEL, messages=HELLO,
                                                       max_tokens=50, temperature=0.1)
    assert completion.choices[0].message.content == "Hello from the fake Mistral server."
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_openai_async(proxy: Proxy) -> None:
    async with aclient(proxy) as api:
        answers = await asyncio.gather(*(api.chat.completions.create(model=MODEL, messages=HELLO)
                                         for _ in range(5)))
    assert {a.choices[0].message.content for a in answers} == {
        "Hello from the fake Mistral server."}


def test_openai_stream_with_usage(proxy: Proxy) -> None:
    stream = client(proxy).chat.completions.create(
        model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake Mistral server."
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_openai_async_stream(proxy: Proxy) -> None:
    async with aclient(proxy) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Hello from the fake Mistral server."


def test_openai_tools(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    completion = client(proxy).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL], tool_choice="required")
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert fake_mistral.requests[-1].json["tool_choice"] == "any"


def test_openai_reasoning_effort(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    completion = client(proxy).chat.completions.create(model=MODEL, messages=HELLO,
                                                       reasoning_effort="high")
    message = completion.choices[0].message
    assert fake_mistral.requests[-1].json["reasoning_effort"] == "high"
    assert message.content == "Hello from the fake Mistral server."
    assert (message.model_extra or {}).get("reasoning_content")


def test_openai_image_input(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    client(proxy).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": image}}]}])
    sent = fake_mistral.requests[-1].json["messages"][0]["content"]
    assert any(part.get("type") == "image_url" for part in sent)


def test_openai_models(proxy: Proxy) -> None:
    api = client(proxy)
    assert [m.id for m in api.models.list()] == [MODEL]
    assert api.models.retrieve(MODEL).owned_by == "gatewise"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4o")


def test_openai_embeddings(example_proxy: Proxy) -> None:
    api = client(example_proxy, MASTER_KEY)
    result = api.embeddings.create(model="mistral-embed", input=["one", "two"])  # base64 wire
    assert [len(d.embedding) for d in result.data] == [1024, 1024]
    floats = api.embeddings.create(model="mistral-embed", input="one", encoding_format="float")
    assert len(floats.data[0].embedding) == 1024


def test_the_example_config_serves_the_mock_model(example_proxy: Proxy,
                                                  fake_mistral: FakeMistral) -> None:
    api = client(example_proxy, MASTER_KEY)
    completion = api.chat.completions.create(model="demo", messages=HELLO)
    assert (completion.choices[0].message.content or "").startswith("Hello from gatewise!")
    assert fake_mistral.requests == []
    assert [m.id for m in api.models.list()] == ["demo", "mistral-small-latest", "mistral-embed"]


# -- langchain ------------------------------------------------------------------------------

def test_langchain_invoke_and_stream(proxy: Proxy) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL, base_url=proxy.url + "/v1", api_key="unused",  # type: ignore[arg-type]
                     max_retries=0)
    assert llm.invoke("hello").content == "Hello from the fake Mistral server."
    pieces = [chunk.content for chunk in llm.stream("hello")]
    assert "".join(map(str, pieces)) == "Hello from the fake Mistral server."


# -- errors ---------------------------------------------------------------------------------

def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def test_unknown_model_is_404_listing_the_names(proxy: Proxy) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(proxy).chat.completions.create(model="gpt-4o", messages=HELLO)
    error = _error(info.value)
    assert error["code"] == "model_not_found"
    assert "Available models: mistral-small-latest" in error["message"]


def test_unsupported_param_is_400(proxy: Proxy) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).chat.completions.create(model=MODEL, messages=HELLO, logprobs=True)
    error = _error(info.value)
    assert error["param"] == "logprobs"
    # The remedy as a proxy client applies it, not as the SDK's Python argument.
    assert ('send "drop_params": true in the request body (or set drop_params: true under '
            "litellm_settings in the proxy's config)") in error["message"]
    assert "drop_params=True" not in error["message"]
    dropped = client(proxy).chat.completions.create(
        model=MODEL, messages=HELLO, logprobs=True, extra_body={"drop_params": True})
    assert dropped.choices[0].message.content


@pytest.mark.parametrize(("body", "param"), [
    (b"{oops", None), (b'"a string"', None), (b'{"model": "mistral-small-latest"}', "messages"),
    (b'{"model": "mistral-small-latest", "messages": [], "stream": 1}', "messages"),
])
def test_malformed_bodies_are_400(proxy: Proxy, body: bytes, param: str | None) -> None:
    answer = httpx.post(proxy.url + "/v1/chat/completions", content=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param


def test_body_over_the_limit_is_413(proxy: Proxy) -> None:
    big = b'{"model": "x", "messages": [], "pad": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    answer = httpx.post(proxy.url + "/v1/chat/completions", content=big)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "request_too_large"
    assert httpx.get(proxy.url + "/health/liveliness").status_code == 200


def test_upstream_errors_pass_with_their_status(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    retry_now = {"retry-after": "0"}
    fake_mistral.script(*[Status(429, headers=retry_now)] * 3)
    with pytest.raises(openai.RateLimitError) as rate:
        client(proxy).chat.completions.create(model=MODEL, messages=HELLO)
    assert _error(rate.value)["type"] == "rate_limit_error"
    assert rate.value.response.headers["x-gatewise-model-id"] == "mistral-small-latest#0"
    fake_mistral.script(Status(400))
    with pytest.raises(openai.BadRequestError):
        client(proxy).chat.completions.create(model=MODEL, messages=HELLO)


def test_upstream_401_names_the_deployment_key(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.api_keys = {"some-other-key"}
    with pytest.raises(openai.AuthenticationError) as info:
        client(proxy).chat.completions.create(model=MODEL, messages=HELLO)
    error = _error(info.value)
    assert "check MISTRAL_API_KEY" in error["message"]
    assert "test-key" not in info.value.response.text


def test_master_key(example_proxy: Proxy) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client(example_proxy, "wrong").chat.completions.create(model="demo", messages=HELLO)
    assert _error(info.value)["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(example_proxy, "wrong").models.list()
    assert httpx.get(example_proxy.url + "/health/readiness").status_code == 200
    assert "NO MASTER KEY" not in example_proxy.output()


def test_health_in_detail_needs_the_master_key(example_proxy: Proxy) -> None:
    readiness = httpx.get(example_proxy.url + "/health/readiness").json()
    for headers in ({}, {"authorization": "Bearer wrong"}):
        public = httpx.get(example_proxy.url + "/health", headers=headers)
        assert public.status_code == 200
        assert public.json() == readiness
        assert "api_base" not in public.text and "demo" not in public.text
    for headers in ({"authorization": f"Bearer {MASTER_KEY}"}, {"x-api-key": MASTER_KEY}):
        detailed = httpx.get(example_proxy.url + "/health", headers=headers).json()
        names = {e["model_name"] for e in detailed["healthy_endpoints"]}
        assert names == {"demo", "mistral-small-latest", "mistral-embed"}


def test_readiness_is_503_while_no_deployment_can_serve(tmp_path: Path) -> None:
    env = {"MISTRAL_API_KEY": ""}  # the only deployment's key is missing
    with run_proxy(["--model", "mistral/mistral-small-latest"], tmp_path, env) as server:
        answer = httpx.get(server.url + "/health/readiness")
        assert answer.status_code == 503
        assert answer.json()["status"] == "not_ready"
        assert httpx.get(server.url + "/health/liveness").status_code == 200


# -- streaming edge cases -------------------------------------------------------------------

def test_mid_stream_failure_is_an_error_event(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(CutStream(after_events=2))
    stream = client(proxy).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    received = []

    def read_all() -> None:
        received.extend(stream)

    with pytest.raises(openai.APIError) as info:
        read_all()
    assert received, "the first chunks arrive before the error"
    assert "before it was complete" in info.value.message


def test_stream_headers_come_with_the_first_chunk_and_chunks_are_not_held(
        proxy: Proxy, fake_mistral: FakeMistral) -> None:
    # The router settles the deployment on the first chunk (a failure before it goes
    # elsewhere, or is a plain HTTP error): the headers say who serves, then every chunk is
    # passed on as it arrives.
    fake_mistral.stream_delay = 0.25
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    start = time.monotonic()
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["x-gatewise-model-id"] == "mistral-small-latest#0"
        assert answer.headers["x-gatewise-attempted-retries"] == "0"
        lines = answer.iter_lines()
        first = next(lines)
        first_after = time.monotonic() - start
        rest = [line for line in lines if line]
        total = time.monotonic() - start
    assert first.startswith("data: ")
    assert len(rest) >= 3 and rest[-1] == "data: [DONE]"
    assert first_after < 0.6 and total - first_after > 0.5


def test_client_disconnect_cancels_the_upstream(proxy: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.stream_delay = 0.15
    body = json.dumps({"model": MODEL, "messages": HELLO, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: "
                     b"application/json\r\ncontent-length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body)
        assert b"data: " in sock.recv(65536) + sock.recv(65536)
        # Reset the connection (no graceful FIN) the way a killed client would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert fake_mistral.disconnected.wait(5), "the upstream request was not cancelled"
    assert httpx.get(proxy.url + "/health/liveliness").status_code == 200
    assert_nothing_in_flight(proxy)


# -- one model without a file, two workers ---------------------------------------------------

def _listening_sockets(pid: int, port: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds that listen on ``port`` (Linux)."""
    listen = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                listen.add(fields[9])
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                held.add(target[8:-1])
    return held & listen


def test_model_flag_with_two_workers_stopped_by_ctrl_c(fake_mistral: FakeMistral,
                                                       tmp_path: Path) -> None:
    args = ["--model", "mistral/mistral-small-latest", "--workers", "2"]
    with run_proxy(args, tmp_path, _env(fake_mistral), stop_with=signal.SIGINT) as server:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        if children.exists():  # Linux: each worker listens on a socket of its own
            deadline = time.monotonic() + 10  # the second may still be starting
            while True:  # (multiprocessing's resource tracker is a child too)
                children_now = [int(p) for p in children.read_text().split()]
                listening = [s for s in (_listening_sockets(p, server.port) for p in children_now)
                             if s]
                if len(listening) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert [len(s) for s in listening] == [1, 1]
            assert len(set().union(*listening)) == 2
        api = client(server)
        for _ in range(6):
            answer = api.chat.completions.create(model="mistral/mistral-small-latest",
                                                 messages=HELLO)
            assert answer.choices[0].message.content == "Hello from the fake Mistral server."
        assert "serving models: mistral/mistral-small-latest" in server.output()


@pytest.mark.parametrize(("workers", "shared"), [("1", False), ("2", False), ("2", True)])
def test_a_taken_port_is_one_clear_line_and_a_failed_exit(fake_mistral: FakeMistral, tmp_path: Path,
                                                   workers: str, shared: bool) -> None:
    """The same line and exit status (3) for one worker and several, before anything else
    (here the missing-key warning the config would give)."""
    # shared: taken as another `--workers N` proxy takes it (SO_REUSEPORT), which would
    # let this one share the port rather than fail, were it not checked first.
    with socket.socket() as taken:
        if shared:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "MISTRAL_API_KEY"}
        # Its own process group: should it start after all, its workers go down with it.
        started = subprocess.Popen(
            [sys.executable, "-m", "gatewise", "--model", "mistral/mistral-small-latest",
             "--workers", workers, "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = started.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.communicate()
            pytest.fail("the proxy started on a taken port")
    assert started.returncode == 3, stderr
    assert (stdout, stderr) == (
        "", f"gatewise: cannot listen on 127.0.0.1:{port}: address already in use\n")


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "4000x", ""])
def test_a_port_out_of_range_is_refused_before_anything_else(tmp_path: Path, port: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gatewise", "--model", "mistral/mistral-small-latest",
         "--port", port], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stdout == ""
    usage, error = result.stderr.strip().split("\n")[-2:]
    assert usage.startswith("usage: gatewise") or usage.startswith(" ")
    assert error == ("gatewise: error: argument --port/-p: must be a whole number from 1 to "
                     f"65535 (or 0 for any free port), got {port!r}")


def test_port_0_takes_a_free_port_and_says_which(fake_mistral: FakeMistral,
                                                 tmp_path: Path) -> None:
    started = subprocess.Popen(
        [sys.executable, "-m", "gatewise", "--model", "mistral/mistral-small-latest",
         "--host", "127.0.0.1", "--port", "0"], cwd=tmp_path,
        env={**os.environ, **_env(fake_mistral)}, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        assert started.stderr is not None
        deadline = time.monotonic() + 20
        announced = None
        while announced is None and time.monotonic() < deadline:
            line = started.stderr.readline()
            assert line, "the proxy ended before it said where it listens"
            announced = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line)
        assert announced is not None
        port = int(announced.group(1))
        assert port != 0
        answer = httpx.get(f"http://127.0.0.1:{port}/health/liveness", timeout=5)
        assert answer.json() == {"status": "alive"}
        started.send_signal(signal.SIGTERM)
        assert started.wait(15) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)
        started.communicate()
