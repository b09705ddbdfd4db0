"""Several proxies, one Redis: the real CLI twice (and with ``--workers 2``) against a real
redis-server, driven by the ``openai`` package.

Limits are exact across instances and workers, a cooldown seen by one is kept by the
other, a plain chat request costs two round trips to Redis (counted with ``MONITOR``), and
Redis may go away -- stopped, frozen, or never there -- without a request failing or
hanging: the proxies go on with local state, say so once, and share again when it is back.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from tests._net import refused_port, silent_server
from tests._services import Redis, redis_server
from tests.access._keys import add_key
from tests.fake_mistral import Delay, FakeMistral
from tests.proxy._server import Proxy, client, inside_a_window, run_proxy_with
from tests.proxy.conftest import HELLO

SMALL = "mistral/mistral-small-latest"
MASTER = "sk-master-shared-e2e"
PASSWORD = "redis-pw-K2X9"


def mocked(name: str, id: str, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "model_info": {"id": id},
            "litellm_params": {"model": SMALL, "mock_response": "ok", **params}}


def config(redis_url: str | None, **router: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"allowed_fails": 1, "cooldown_time": 120, "num_retries": 2,
                                **router}
    if redis_url is not None:
        settings["redis_url"] = redis_url
    return {
        "model_list": [
            mocked("limited", "limited", rpm=10),
            mocked("plain", "plain"),
            # "pair": one deployment that cannot be reached, one that serves
            {"model_name": "pair", "model_info": {"id": "broken"}, "litellm_params": {
                "model": SMALL, "api_key": "k",
                "api_base": f"http://127.0.0.1:{refused_port()}/v1"}},
            mocked("pair", "working"),
        ],
        "router_settings": settings,
        "general_settings": {"master_key": MASTER},
    }


def chat(proxy: Proxy, model: str, key: str = MASTER) -> tuple[int, str | None]:
    """One chat request on a fresh connection: (status, the deployment that served)."""
    with client(proxy, key) as api:
        try:
            raw = api.chat.completions.with_raw_response.create(model=model, messages=HELLO)
        except openai.APIStatusError as exc:
            return exc.status_code, None
    return raw.http_response.status_code, raw.headers.get("x-gatewise-model-id")


def health(proxy: Proxy, key: str | None = MASTER) -> dict[str, Any]:
    request = urllib.request.Request(proxy.url + "/health")
    if key:
        request.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        report: dict[str, Any] = json.loads(answer.read())
        return report


def eventually(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def statuses(results: list[tuple[int, str | None]]) -> Counter[int]:
    return Counter(status for status, _ in results)


@contextmanager
def proxies(tmp_path: Path, data: dict[str, Any], count: int = 2,
            args: tuple[str, ...] = ("--log-level", "info")) -> Iterator[list[Proxy]]:
    with ExitStack() as stack:
        started = []
        for i in range(count):
            workdir = tmp_path / f"p{i}"
            workdir.mkdir(exist_ok=True)
            started.append(stack.enter_context(run_proxy_with(data, workdir, args=args)))
        yield started


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


# -- two instances, one set of limits ----------------------------------------------------

def test_two_instances_share_a_deployments_rpm_and_its_cooldowns(
        own_redis: Redis, tmp_path: Path) -> None:
    with proxies(tmp_path, config(own_redis.url)) as (a, b):
        for proxy in (a, b):
            shared = health(proxy)["shared_state"]
            assert shared["connected"] and not shared["fallback_active"]
            assert "shared state: Redis at redis://127.0.0.1:" in proxy.output()
        inside_a_window()
        results = [chat(proxy, "limited") for _ in range(10) for proxy in (a, b)]
        assert statuses(results) == {200: 10, 429: 10}  # exactly rpm 10, over both

        # A finds "broken" broken (and benches it: allowed_fails 1); B never tries it.
        eventually(lambda: chat(a, "pair") == (200, "working")
                   and health(a)["unhealthy_count"] == 1)
        report = {e["id"]: e for e in health(b)["unhealthy_endpoints"]}
        assert report["broken"]["status"] == "cooling_down"
        assert all(chat(b, "pair") == (200, "working") for _ in range(10))


def test_a_plain_chat_request_costs_two_round_trips(own_redis: Redis, tmp_path: Path) -> None:
    """With a key that has every kind of limit: its admission (key limits, budget
    reservation) and the deployment in one round trip, the release and settlement in one.

    Counted exactly, whatever else runs: MONITOR is on before the first request (its +OK
    read); a release is written behind its answer (write-behind, on the loop's next turn),
    so the warm-up's may show after MONITOR is on (it comes before the first acquire: left
    out) and the last one is waited for; the background's commands are told apart by what
    they are, and the bounded wait is long enough that a loaded machine does not send the
    store local for a moment."""
    database = f"sqlite:///{tmp_path / 'keys.db'}"
    data = config(own_redis.url, redis_timeout=10)
    data["general_settings"]["database_url"] = database
    with proxies(tmp_path, data, count=1) as (proxy,):
        key = asyncio.run(_keys(database, rpm_limit=1000, tpm_limit=10**9,
                                max_parallel_requests=50, max_budget=100.0))
        assert chat(proxy, "plain", key)[0] == 200  # the key is loaded, its scopes made
        with monitor(own_redis) as seen:
            for _ in range(10):
                assert chat(proxy, "plain", key)[0] == 200
            eventually(lambda: sum(c.endswith('"release"') for c in _requests(seen)) >= 10)
            mark(own_redis, seen)
    commands = _requests(seen)
    assert len(commands) == 20, "\n".join(commands)
    assert Counter(c.split()[-1] for c in commands) == {'"acquire"': 10, '"release"': 10}


def _requests(seen: list[str]) -> list[str]:
    """The requests' commands MONITOR showed, from the first acquire on (a release before
    it is the warm-up's, written behind its answer)."""
    commands = [c for c in (" ".join(line.split()[3:7]) for line in list(seen))
                if not any(b in c.split() for b in BACKGROUND)]
    while commands and commands[0].endswith('"release"'):
        commands.pop(0)
    return commands


BACKGROUND = ('"beat"', '"PING"', '"SUBSCRIBE"', '"CLIENT"', '"HELLO"', '"ECHO"')
"""What is not the requests': the heartbeat, the change channel's keep-alive (and its
connection and subscription, should it resubscribe), the test's own marker."""
MARK = "gatewise-test-mark"


def mark(server: Redis, seen: list[str], timeout: float = 20.0) -> None:
    """Wait until MONITOR has shown every command run so far: send a marker of our own
    and wait for it (MONITOR shows commands in the order Redis runs them)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(f"ECHO {MARK}\r\n".encode())
        sock.recv(1024)
    deadline = time.monotonic() + timeout
    while not any(MARK in line for line in seen):
        assert time.monotonic() < deadline, "MONITOR never showed the marker"
        time.sleep(0.02)


@contextmanager
def monitor(server: Redis, timeout: float = 20.0) -> Iterator[list[str]]:
    """What clients send to ``server`` (``MONITOR``), one line per command; the commands a
    script runs inside Redis are left out.  Yields once MONITOR is on (its +OK read)."""
    seen: list[str] = []
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"MONITOR\r\n")
    on = threading.Event()
    done = threading.Event()

    def read() -> None:
        buffer = b""
        while not done.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *lines, buffer = buffer.split(b"\r\n")
            for line in lines:
                if line == b"+OK":
                    on.set()
                elif line.startswith(b"+") and b" lua]" not in line:
                    seen.append(line.decode(errors="replace"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        assert on.wait(timeout), "MONITOR never answered"
        yield seen
    finally:
        done.set()
        sock.close()
        thread.join(5)


def test_a_keys_limits_hold_across_two_instances(own_redis: Redis, tmp_path: Path,
                                                 fake_mistral: FakeMistral) -> None:
    """One database (SQLite, shared by both processes) and one Redis: a key with rpm_limit
    5 gets 5 answers over both; one with max_parallel_requests 2, two at a time."""
    database = f"sqlite:///{tmp_path / 'keys.db'}"
    data = config(own_redis.url)
    data["general_settings"]["database_url"] = database
    data["model_list"].append({"model_name": "slow", "litellm_params": {
        "model": SMALL, "api_key": "test-key", "api_base": fake_mistral.base_url}})
    with proxies(tmp_path, data) as (a, b):
        rpm_key = asyncio.run(_keys(database, rpm_limit=5))
        parallel_key = asyncio.run(_keys(database, max_parallel_requests=2))
        inside_a_window()
        answers = [chat(proxy, "plain", rpm_key) for _ in range(5) for proxy in (a, b)]
        assert statuses(answers) == {200: 5, 429: 5}
        fake_mistral.script(*[Delay(1.0)] * 8)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda p: chat(p, "slow", parallel_key), [a, b] * 4))
        assert statuses(answers) == {200: 2, 429: 6}


async def _keys(url: str, **limits: Any) -> str:
    """A new key with ``limits``, written into the proxies' database."""
    from gatewise.db.database import Database
    from gatewise.db.url import parse_database_url

    db = await Database.open(parse_database_url(url))
    try:
        return await add_key(db, **limits)
    finally:
        await db.close()


# -- workers -------------------------------------------------------------------------------

def test_workers_with_redis_keep_limits_exact(own_redis: Redis, tmp_path: Path) -> None:
    with proxies(tmp_path, config(own_redis.url), count=1,
                 args=("--workers", "2", "--log-level", "info")) as (proxy,):
        assert "--workers 2 without Redis" not in proxy.output()
        inside_a_window()
        results = [chat(proxy, "limited") for _ in range(20)]
        assert statuses(results) == {200: 10, 429: 10}


def test_workers_without_redis_each_keep_half_and_say_so(tmp_path: Path) -> None:
    with proxies(tmp_path, config(None), count=1,
                 args=("--workers", "2", "--log-level", "info")) as (proxy,):
        output = proxy.output()
        assert "WARNING: --workers 2 without Redis: each worker enforces 1/2" in output
        inside_a_window(clock=time.monotonic)  # (each worker's own store: its clock)
        served = statuses([chat(proxy, "limited") for _ in range(20)])[200]
        # each worker 5 of the 10: never the 20 two whole limits would let through
        assert 5 <= served <= 10
        assert health(proxy)["shared_state"] == {"backend": "memory", "workers": 2,
                                                 "share": 2}


# -- faults ---------------------------------------------------------------------------------

def test_redis_stopped_mid_run_then_restarted(own_redis: Redis, tmp_path: Path) -> None:
    data = config(own_redis.url)
    data["model_list"].append(mocked("later", "later", rpm=6))
    with proxies(tmp_path, data) as (a, b):
        assert all(chat(p, "plain")[0] == 200 for p in (a, b))
        own_redis.stop()
        for _ in range(5):  # served throughout, without waiting on Redis
            assert [chat(p, "plain")[0] for p in (a, b)] == [200, 200]
        for proxy in (a, b):
            shared = health(proxy)["shared_state"]
            assert shared["fallback_active"] and not shared["connected"]
            assert shared["error"]
        own_redis.start()
        for proxy in (a, b):
            eventually(lambda p=proxy: health(p)["shared_state"]["connected"])
        inside_a_window()
        assert statuses([chat(p, "later") for _ in range(6) for p in (a, b)]) == {
            200: 6, 429: 6}  # shared again
        for proxy in (a, b):
            output = proxy.output()
            assert output.count("lost Redis at") == 1  # once, not per request
            assert output.count("answers again") == 1


def test_a_redis_that_never_answers(tmp_path: Path) -> None:
    with silent_server() as port, proxies(
            tmp_path, config(f"redis://127.0.0.1:{port}/0"), count=1) as (proxy,):
        assert "is unreachable (no answer within" in proxy.output()
        for _ in range(5):
            assert chat(proxy, "plain")[0] == 200
        shared = health(proxy)["shared_state"]
        assert not shared["connected"] and shared["fallback_active"]
        assert shared["failure_mode"] == "open"


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[Redis]:
    with redis_server("--requirepass", PASSWORD) as server:
        yield server


@pytest.mark.parametrize("password", [PASSWORD, "not-the-password-31"])
def test_redis_with_a_password(locked_redis: Redis, tmp_path: Path, password: str) -> None:
    data = config(None)
    data["router_settings"].update(redis_host="127.0.0.1", redis_port=locked_redis.port,
                                   redis_password=password)
    with proxies(tmp_path, data, count=1, args=("--log-level", "debug")) as (proxy,):
        shared = health(proxy)["shared_state"]
        assert chat(proxy, "plain")[0] == 200
        if password == PASSWORD:
            assert shared["connected"] and shared["error"] is None
        else:
            assert not shared["connected"]
            advice = "refused the password given by router_settings.redis_password"
            assert advice in shared["error"] and advice in proxy.output()
        assert password not in proxy.output() and password not in json.dumps(health(proxy))


def test_only_the_master_key_sees_the_shared_state(own_redis: Redis, tmp_path: Path) -> None:
    with proxies(tmp_path, config(own_redis.url), count=1) as (proxy,):
        assert "shared_state" in health(proxy)
        assert "shared_state" not in health(proxy, key=None)
        assert "shared_state" not in health(proxy, key="sk-wrong")


_ = signal  # (SIGTERM is how run_proxy stops them)
