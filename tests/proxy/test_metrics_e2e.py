"""Prometheus through the real CLI: a known mix of requests (successes, a client error, an
upstream 5xx retried, a fallback, an upstream 4xx, a stream, a stream its client abandons,
embeddings), then ``/metrics`` parsed with prometheus_client's parser -- each counter and
each histogram's count is what was sent.  The same run checks the JSON request log: one
line per request, no secret, no message content.  ``--workers 2``: one scrape sums both."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._net import free_port
from tests.fake_mistral import FakeMistral, Status
from tests.proxy._metrics import Samples, scrape, usage_sum, value, wait_for
from tests.proxy._server import Proxy, run_proxy_with
from tests.proxy.conftest import HELLO

MASTER = "sk-metrics-master-key"
SMALL = "mistral/mistral-small-latest"
AUTH = {"authorization": f"Bearer {MASTER}"}


def config(fake: FakeMistral, **settings: Any) -> dict[str, Any]:
    params = {"model": SMALL, "api_key": "test-key", "api_base": fake.base_url}
    embed = {**params, "model": "mistral/mistral-embed"}
    return {
        "model_list": [
            {"model_name": "small", "litellm_params": params, "model_info": {"id": "small-a"}},
            {"model_name": "small", "litellm_params": params, "model_info": {"id": "small-b"}},
            {"model_name": "large", "litellm_params": params, "model_info": {"id": "large-c"}},
            {"model_name": "embed", "litellm_params": embed, "model_info": {"id": "embed-d"}}],
        "router_settings": {"num_retries": 1, "allowed_fails": 100, "retry_backoff": 0.01,
                            "fallbacks": [{"small": ["large"]}], "seed": 1},
        "litellm_settings": {"callbacks": ["prometheus"], **settings},
        "general_settings": {"master_key": MASTER}}


def chat(proxy: Proxy, model: str = "small", **body: Any) -> httpx.Response:
    return httpx.post(proxy.url + "/v1/chat/completions", headers=AUTH, timeout=30,
                      json={"model": model, "messages": HELLO, **body})


def abandon_stream(proxy: Proxy, model: str) -> None:
    """Start a stream, read its first event, and reset the connection."""
    body = json.dumps({"model": model, "messages": HELLO, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: "
                     b"Bearer " + MASTER.encode() + b"\r\ncontent-type: application/json\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        received = b""
        while b"data: " not in received:
            received += sock.recv(65536)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_metrics_count_what_was_sent(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    with run_proxy_with(config(fake_mistral, json_logs=True), tmp_path) as proxy:
        served: list[dict[str, Any]] = []  # small's answers, for its tokens
        ids: list[str] = []
        for _ in range(3):
            answer = chat(proxy, temperature=0.1)
            assert answer.status_code == 200
            served.append(answer.json())
            ids.append(answer.headers["x-gatewise-call-id"])
        fake_mistral.script(Status(500))  # retried on the other deployment
        retried = chat(proxy)
        assert retried.headers["x-gatewise-attempted-retries"] == "1"
        fake_mistral.script(Status(500), Status(500))  # both fail: large takes over
        fallen = chat(proxy)
        assert fallen.headers["x-gatewise-attempted-fallbacks"] == "1"
        assert fallen.headers["x-gatewise-model-id"] == "large-c"
        served += [retried.json(), fallen.json()]
        assert chat(proxy, "no-such-model").status_code == 404
        assert chat(proxy, stream="yes").status_code == 400
        fake_mistral.script(Status(400))  # large has no fallback: the client gets it
        assert chat(proxy, "large").status_code == 400
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", headers=AUTH, json={
                "model": "small", "messages": HELLO, "stream": True,
                "stream_options": {"include_usage": True}}) as streamed:
            events = [json.loads(line[6:]) for line in streamed.iter_lines()
                      if line.startswith("data: {")]
        served.append(events[-1])
        fake_mistral.stream_delay = 0.1
        abandon_stream(proxy, "large")
        fake_mistral.stream_delay = 0.0
        for _ in range(2):
            answer = httpx.post(proxy.url + "/v1/embeddings", headers=AUTH,
                                json={"model": "embed", "input": ["a", "b"]})
            assert answer.status_code == 200
        sent = 12

        m = wait_for(proxy.url, lambda s: value(
            s, "gatewise_requests_total", model_group="large", status_class="4xx") == 2)
        _check_counts(m)
        assert value(m, "gatewise_input_tokens_total", model_group="small") == usage_sum(
            served, "prompt_tokens")
        assert value(m, "gatewise_output_tokens_total", model_group="small") == usage_sum(
            served, "completion_tokens")
        assert value(m, "gatewise_spend_usd_total", model_group="small") > 0
        assert value(m, "gatewise_input_tokens_total", model_group="embed") > 0
        for deployment in ("small-a", "small-b", "large-c", "embed-d"):
            assert value(m, "gatewise_deployment_state", deployment=deployment,
                         state="healthy") == 1
        assert "gatewise_ledger_queue_depth" in m

        # The request log: one JSON line per request, no secret, no message content.
        log = proxy.output()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"call_id"')]
        assert len(lines) == sent
        by_id = {line["call_id"]: line for line in lines}
        assert all(by_id[i]["status"] == 200 and by_id[i]["model_group"] == "small"
                   for i in ids)
        assert {line["error_type"] for line in lines} >= {"client_disconnected",
                                                          "invalid_request_error"}
        for secret in (MASTER, "test-key", "hello from gatewise"):
            assert secret not in log


def _check_counts(m: Samples) -> None:
    requests = "gatewise_requests_total"
    assert value(m, requests, model_group="small", route="chat", status_class="2xx") == 6
    assert value(m, requests, model_group="", route="chat", status_class="4xx") == 2
    assert value(m, requests, model_group="large", route="chat", status_class="4xx") == 2
    assert value(m, requests, model_group="embed", route="embeddings",
                 status_class="2xx") == 2
    assert value(m, requests) == 12
    failures = "gatewise_request_failures_total"
    assert value(m, failures, model_group="", error_type="invalid_request_error") == 2
    assert value(m, failures, model_group="large", error_type="invalid_request_error") == 1
    assert value(m, failures, model_group="large", error_type="client_disconnected") == 1
    assert value(m, failures) == 4
    for name, group, route, count in (
            ("gatewise_request_duration_seconds_count", "small", "chat", 6),
            ("gatewise_request_duration_seconds_count", "", "chat", 2),
            ("gatewise_request_duration_seconds_count", "large", "chat", 2),
            ("gatewise_request_duration_seconds_count", "embed", "embeddings", 2),
            ("gatewise_upstream_duration_seconds_count", "small", "chat", 6),
            ("gatewise_upstream_duration_seconds_count", "large", "chat", 1),
            ("gatewise_proxy_overhead_seconds_count", "small", "chat", 6),
            ("gatewise_proxy_overhead_seconds_count", "embed", "embeddings", 2)):
        assert value(m, name, model_group=group, route=route) == count, (name, group)
    # Each histogram's +Inf bucket is its count.
    assert value(m, "gatewise_request_duration_seconds_bucket", le="+Inf") == 12
    assert value(m, "gatewise_time_to_first_token_seconds_count", model_group="small") == 1
    assert value(m, "gatewise_time_to_first_token_seconds_count", model_group="large") == 1
    assert value(m, "gatewise_retries_total", model_group="small") == 2
    assert value(m, "gatewise_fallbacks_total", model_group="small") == 1
    attempts = "gatewise_deployment_attempts_total"
    assert value(m, attempts, outcome="InternalServerError") == 3
    assert value(m, attempts, outcome="BadRequestError") == 1
    assert value(m, attempts, outcome="success") == 9
    assert value(m, attempts, deployment="large-c", outcome="success") == 2
    assert value(m, "gatewise_in_flight_requests") == 0
    assert value(m, "gatewise_deployment_cooldowns_total") == 0


def _stale_counter(folder: Path) -> None:
    """A counter file left by an earlier run (1,000 requests) in ``folder``."""
    import subprocess
    import sys

    folder.mkdir()
    script = ("from prometheus_client import Counter\n"
              "Counter('gatewise_requests', 'x', ('model_group', 'route', 'status_class'))"
              ".labels('small', 'chat', '2xx').inc(1000)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   env={"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"})
    assert list(folder.glob("counter_*.db"))


def _worker_dirs(proxy: Proxy) -> set[str]:
    """The PROMETHEUS_MULTIPROC_DIR the supervisor gave its workers (Linux /proc)."""
    pid = proxy.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = set()
    for child in children:
        for entry in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                found.add(entry.partition(b"=")[2].decode())
    return found


@pytest.mark.parametrize("own_dir", [False, True], ids=["cli-dir", "operator-dir"])
def test_two_workers_sum_into_one_scrape(fake_mistral: FakeMistral, tmp_path: Path,
                                         own_dir: bool) -> None:
    env = {}
    if own_dir:  # the operator's directory, holding an earlier run's files: emptied
        _stale_counter(tmp_path / "prometheus")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    with run_proxy_with(config(fake_mistral), tmp_path, env,
                        args=("--log-level", "warning", "--workers", "2")) as proxy:
        workers: set[str] = set()
        sent = 0
        deadline = time.monotonic() + 60
        while len(workers) < 2 or sent < 20:  # a new connection each: both workers serve
            answer = chat(proxy)
            assert answer.status_code == 200
            workers.add(answer.headers["x-gatewise-call-id"][:16])  # each its own prefix
            sent += 1
            assert time.monotonic() < deadline, "one worker took every connection"
        folders = _worker_dirs(proxy)
        assert len(folders) == 1
        # Each worker flushes what it counted within FLUSH_SECONDS: then whichever worker
        # answers, the sum of both.
        wait_for(proxy.url, lambda s: value(s, "gatewise_requests_total",
                                            model_group="small") == sent)
        for _ in range(6):
            m = scrape(proxy.url)
            assert value(m, "gatewise_requests_total", model_group="small") == sent
            assert value(m, "gatewise_request_duration_seconds_count",
                         model_group="small") == sent
            assert value(m, "gatewise_in_flight_requests") == 0
        # Each worker publishes what it sees of the deployments: both are counted.
        wait_for(proxy.url, lambda s: value(s, "gatewise_deployment_state",
                                            deployment="small-a", state="healthy") == 2)
    (folder,) = folders
    assert Path(folder).exists() == own_dir  # the CLI's own directory is removed at exit


def test_metrics_on_a_port_of_their_own(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    port = free_port()
    settings = config(fake_mistral)
    settings["general_settings"]["metrics_port"] = port
    with run_proxy_with(settings, tmp_path) as proxy:
        assert chat(proxy).status_code == 200
        metrics_url = f"http://127.0.0.1:{port}"
        m = scrape(metrics_url)
        assert value(m, "gatewise_requests_total", model_group="small") == 1
        assert httpx.get(proxy.url + "/metrics").status_code == 404  # not on the API's port
        for path in ("/v1/models", "/health", "/v1/chat/completions"):  # nor the API on it
            assert httpx.get(metrics_url + path, headers=AUTH).status_code == 404
        assert f"metrics: http://localhost:{port}/metrics" in proxy.output()
