"""The servers under test, each started pinned to the server core: the gatewise proxy in the
configurations the targets name (:data:`PROXIES`), the reference forwarder and the
raw-asyncio ceiling.  Every proxy runs a realistic config: two deployments behind one name
with the router shuffling between them, a streaming and an embeddings deployment, keys
from ``os.environ/``, cost headers on as by default.  The bodies and keys the load
generator sends live here too, so every server gets the same requests (a proxy with
virtual keys swaps in the key it made at start).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.load import Workload
from bench.procs import SERVER_CPU, Service, free_port, http_post_json, python
from bench.reference import PACED_MODEL

MASTER_KEY = "sk-bench-master-key"
ENV = {"BENCH_MISTRAL_KEY_A": "upstream-key-a", "BENCH_MISTRAL_KEY_B": "upstream-key-b",
       "BENCH_MASTER_KEY": MASTER_KEY}

CHAT_MODEL, STREAM_MODEL, EMBED_MODEL = "bench-chat", "bench-stream", "bench-embed"
_MESSAGES = [{"role": "system", "content": "You are a terse assistant."},
             {"role": "user", "content": "Reply with the single word OK."}]


def _body(**fields: object) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


CHAT = Workload("chat", "/v1/chat/completions",
                _body(model=CHAT_MODEL, messages=_MESSAGES, max_tokens=16, temperature=0.2),
                MASTER_KEY)
STREAM = Workload("stream", "/v1/chat/completions",
                  _body(model=STREAM_MODEL, messages=_MESSAGES, max_tokens=256, stream=True),
                  MASTER_KEY)
# The same stream, from an upstream that sends it 256 bytes at a time (nginx needs ~160
# writes a stream): what each read of a real, token-by-token stream costs.
PACED_STREAM = Workload("paced-stream", "/v1/chat/completions",
                        _body(model=PACED_MODEL, messages=_MESSAGES, max_tokens=256,
                              stream=True), MASTER_KEY)
EMBED = Workload("embeddings", "/v1/embeddings",
                 _body(model=EMBED_MODEL, input=["The quick brown fox jumps over the dog."]),
                 MASTER_KEY)


SLOW_CHAT_MODEL, SLOW_STREAM_MODEL = "bench-slow-chat", "bench-slow-stream"
SLOW_CHAT = Workload("slow-chat", "/v1/chat/completions",
                     _body(model=SLOW_CHAT_MODEL, messages=_MESSAGES), MASTER_KEY)
SLOW_STREAM = Workload("slow-stream", "/v1/chat/completions",
                       _body(model=SLOW_STREAM_MODEL, messages=_MESSAGES, stream=True),
                       MASTER_KEY)


def _slow_entries(upstream: str) -> str:
    return f"""\
  - model_name: {SLOW_CHAT_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {upstream}/slow/v1
      api_key: os.environ/BENCH_MISTRAL_KEY_A
  - model_name: {SLOW_STREAM_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {upstream}/slow/stream/v1
      api_key: os.environ/BENCH_MISTRAL_KEY_A
"""


_COOLDOWN = "  allowed_fails: 3\n  cooldown_time: 5\n"
# Faults at ~3 % of a few hundred requests/s would bench both chat deployments all the time
# (3 failures in 60 s, or one 429, bench a deployment): the soak checks that retries absorb
# faults and nothing leaks, so its deployments are benched rarely and briefly.
_SOAK_COOLDOWN = "  allowed_fails: 1000\n  cooldown_time: 1\n"


@dataclass(frozen=True, slots=True)
class ProxyKind:
    """One configuration of the proxy the bench measures."""

    spend_logs: bool = False
    """The spend ledger on (every request's row written in batches); off, the proxy still
    opens its embedded database (virtual keys could be made), it books nothing."""
    virtual_key: bool = False
    """Requests carry a virtual key made through ``POST /key/generate`` at start (with a
    budget and rate limits, so every request is admitted and settled), not the master key."""
    postgres: bool = False
    """The database is a throwaway PostgreSQL (on the load core), not the embedded SQLite."""
    metrics: bool = False
    """Prometheus on (``litellm_settings.callbacks: ["prometheus"]``)."""
    redis: bool = False
    """State shared through a redis-server (the bench's own, on the load core)."""
    transport: str = "lean"


PROXIES: dict[str, ProxyKind] = {
    "proxy": ProxyKind(),  # the master key only
    "proxy-aiohttp": ProxyKind(transport="aiohttp"),
    "proxy-keys": ProxyKind(spend_logs=True, virtual_key=True, metrics=True),
    "proxy-keys-redis": ProxyKind(spend_logs=True, virtual_key=True, metrics=True,
                                  redis=True),
    "proxy-keys-pg": ProxyKind(spend_logs=True, virtual_key=True, metrics=True,
                               postgres=True),
}
VIRTUAL_KEY = {"key_alias": "bench", "max_budget": 1_000_000.0, "rpm_limit": 100_000_000,
               "tpm_limit": 10_000_000_000}
"""The virtual key's settings: limits and a budget far out of reach, all checked."""


def proxy_config(upstream: str, *, faulty: bool = False, kind: ProxyKind | None = None,
                 database_url: str | None = None, redis_port: int | None = None) -> str:
    """The proxy's YAML; ``faulty`` (the soak scenario) points the chat deployments at the
    path where a few percent of answers are upstream errors and adds slow deployments;
    ``kind`` says what is on (the soak's default: the spend ledger, master key)."""
    kind = kind or ProxyKind(spend_logs=True)
    chat_base = f"{upstream}/faulty/v1" if faulty else f"{upstream}/v1"
    stream_base = f"{upstream}/faulty/stream/v1" if faulty else f"{upstream}/stream/v1"
    general = ["  master_key: os.environ/BENCH_MASTER_KEY"]
    if kind.transport != "lean":
        general.append(f"  upstream_transport: {kind.transport}")
    if not kind.spend_logs:
        general.append("  disable_spend_logs: true")
    if database_url is not None:
        general.append(f"  database_url: {database_url}")
    metrics = '  callbacks: ["prometheus"]\n' if kind.metrics else ""
    redis = (f"  redis_url: redis://127.0.0.1:{redis_port}/0\n  redis_timeout: 0.2\n"
             if redis_port is not None else "")
    return f"""\
# Written by `python -m bench`: the proxy as a user would run it, against a fixed-answer
# upstream on loopback.
model_list:
  - model_name: {CHAT_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {chat_base}
      api_key: os.environ/BENCH_MISTRAL_KEY_A
      timeout: 30
      rpm: 1000000
    model_info: {{id: chat-a}}
  - model_name: {CHAT_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {chat_base}
      api_key: os.environ/BENCH_MISTRAL_KEY_B
      timeout: 30
      rpm: 1000000
    model_info: {{id: chat-b}}
  - model_name: {STREAM_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {stream_base}
      api_key: os.environ/BENCH_MISTRAL_KEY_A
      timeout: 30
  - model_name: {PACED_MODEL}
    litellm_params:
      model: mistral/mistral-small-latest
      api_base: {upstream}/paced/stream/v1
      api_key: os.environ/BENCH_MISTRAL_KEY_A
      timeout: 30
  - model_name: {EMBED_MODEL}
    litellm_params:
      model: mistral/mistral-embed
      api_base: {upstream}/v1
      api_key: os.environ/BENCH_MISTRAL_KEY_A
    model_info: {{mode: embedding}}
{_slow_entries(upstream) if faulty else ""}
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
{redis}{_SOAK_COOLDOWN if faulty else _COOLDOWN}
settings:
  drop_params: true
{metrics}
general_settings:
{chr(10).join(general)}
"""


def make_virtual_key(service: Service) -> None:
    """The key ``service``'s requests carry: one made through the management API."""
    body = {**VIRTUAL_KEY, "key_alias": f"bench-{service.port}"}  # (a database may be reused)
    answer = http_post_json(service.port, "/key/generate", body, MASTER_KEY)
    key = answer.get("key")
    if not isinstance(key, str):
        raise RuntimeError(f"/key/generate answered no key: {answer}")
    service.key = key


def gatewise_command(config: Path, port: int, workers: int = 1) -> list[str]:
    return python("-m", "gatewise", "--config", str(config), "--host", "127.0.0.1",
                  "--port", str(port), "--workers", str(workers), "--log-level", "warning")


def proxy(workdir: Path, upstream: str, *, name: str = "proxy", workers: int = 1,
          faulty: bool = False, cpu: int | str = SERVER_CPU, command: list[str] | None = None,
          database_url: str | None = None, redis_port: int | None = None) -> Service:
    """The proxy configured as :data:`PROXIES` says for ``name`` (``database_url``: the
    PostgreSQL a ``postgres`` kind uses; ``redis_port``: the redis-server a ``redis`` kind
    shares its state through)."""
    kind = PROXIES[name]
    if kind.postgres and database_url is None:
        raise ValueError(f"{name} needs a PostgreSQL database_url")
    if kind.redis and redis_port is None:
        raise ValueError(f"{name} needs a redis-server")
    # Each configuration in a folder of its own: its embedded database (next to the config)
    # is its own.
    folder = workdir / name
    folder.mkdir(exist_ok=True)
    config = folder / (f"{name}-faulty.yaml" if faulty else f"{name}.yaml")
    config.write_text(proxy_config(upstream, faulty=faulty, kind=kind,
                                   database_url=database_url if kind.postgres else None,
                                   redis_port=redis_port if kind.redis else None))
    port = free_port()
    return Service(name if workers == 1 else f"{name}-{workers}w",
                   command or gatewise_command(config, port, workers), port, cpu=cpu,
                   env=ENV, cwd=workdir, log=workdir / f"{name}-{port}.log",
                   prepare=make_virtual_key if kind.virtual_key else None)


def reference(workdir: Path, upstream: str, *, workers: int = 1,
              cpu: int | str = SERVER_CPU) -> Service:
    port = free_port()
    cmd = python("-m", "bench.reference", "--port", str(port), "--upstream", upstream,
                 "--key", MASTER_KEY, "--workers", str(workers))
    root = str(Path(__file__).resolve().parent.parent)
    return Service("reference" if workers == 1 else f"reference-{workers}w", cmd, port,
                   cpu=cpu, env={"PYTHONPATH": root}, log=workdir / f"reference-{port}.log")


def ceiling(workdir: Path, upstream: str, *, cpu: int | str = SERVER_CPU,
            name: str = "ceiling") -> Service:
    """The raw-asyncio ceiling (``bench/ceiling.py``), or with ``name="floor"`` gatewise's
    own per-request work on the same plumbing (``bench/floor.py``)."""
    port = free_port()
    cmd = python("-m", f"bench.{name}", "--port", str(port), "--upstream", upstream,
                 "--key", MASTER_KEY)
    root = str(Path(__file__).resolve().parent.parent)
    return Service(name, cmd, port, cpu=cpu, env={"PYTHONPATH": root},
                   log=workdir / f"{name}-{port}.log")


def python_upstream(workdir: Path, port: int, cpu: int | str) -> Service:
    """The pure-Python fixed-answer upstream, when nginx is not available."""
    root = Path(__file__).resolve().parent.parent
    return Service("upstream (python)", [sys.executable, "-m", "bench.upstream", "--port",
                                         str(port)],
                   port, ready_path="/", cpu=cpu, cwd=root, log=workdir / "upstream.log")
