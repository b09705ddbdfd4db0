"""Starting the real CLI as a subprocess on a free port, and stopping it with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from tests._net import free_port

ISSUE_CONFIG = (  # the issue's config, verbatim
    "model_list: [{model_name: mistral-small-latest, litellm_params: "
    '{model: mistral/mistral-small-latest, api_key: "os.environ/MISTRAL_API_KEY"}}]\n'
)
EXAMPLE_CONFIG = Path(__file__).parents[2] / "examples" / "config.yaml"


def inside_a_window(needed: float = 10.0, clock: Callable[[], float] = time.time) -> None:
    """rpm counts are per minute of the server's clock: start well inside one, or a new
    window resets the counts halfway through.  ``clock``: Redis's agreed clock is ~ the
    machine's (``time.time``); the in-process store counts by ``time.monotonic``, which
    Linux keeps the same for every process."""
    left = 60 - clock() % 60
    if left < needed:
        time.sleep(left + 0.2)


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    url: str  # without /v1
    port: int
    log: Path
    started_in: float  # seconds from spawn until /health/readiness answered

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_ready(proxy: Proxy, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"the proxy exited with {proxy.process.returncode}:\n"
                               f"{proxy.output()}")
        try:
            with urllib.request.urlopen(proxy.url + "/health/readiness", timeout=1) as answer:
                if answer.status == 200:
                    return
        except urllib.error.HTTPError as refused:
            if refused.code == 503:  # serving, though no deployment can (not_ready)
                return
            raise
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the proxy was not ready in {timeout}s:\n{proxy.output()}")


def stop(proxy: Proxy, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signal the proxy and wait; if it does not end in time, kill its whole process group
    (a ``--workers N`` supervisor killed alone would leave its workers running)."""
    proxy.process.send_signal(sig)
    try:
        return proxy.process.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proxy)
        proxy.process.wait()
        raise


def kill_group(proxy: Proxy) -> None:
    """Kill whatever is left of the proxy's process group (nothing, normally)."""
    with suppress(ProcessLookupError):
        os.killpg(proxy.process.pid, signal.SIGKILL)


@contextmanager
def run_proxy(args: list[str], workdir: Path, env: dict[str, str],
              stop_with: int = signal.SIGTERM) -> Iterator[Proxy]:
    """``python -m gatewise ARGS --port <free>`` in ``workdir``; yields once it is ready and
    asserts a clean exit (code 0) on ``stop_with`` (SIGTERM, or SIGINT as Ctrl-C sends)."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GATEWISE_")}
    log = workdir / f"proxy-{port}.log"
    start = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gatewise", *args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env={**inherited, **env}, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: see stop()
    proxy = Proxy(process, f"http://127.0.0.1:{port}", port, log, 0.0)
    try:
        _wait_ready(proxy, timeout=20)
        proxy.started_in = time.monotonic() - start
        yield proxy
    finally:
        try:
            if process.poll() is None:
                code = stop(proxy, stop_with)
                assert code == 0, f"exit code {code}:\n{proxy.output()}"
        finally:
            kill_group(proxy)  # workers a crashed supervisor left behind


def run_proxy_with(config: dict[str, Any], workdir: Path, env: dict[str, str] | None = None,
                   args: Sequence[str] = ("--log-level", "warning"),
                   ) -> AbstractContextManager[Proxy]:
    """``run_proxy`` on ``config``, written to ``workdir/config.yaml`` (JSON is YAML)."""
    (workdir / "config.yaml").write_text(json.dumps(config))
    return run_proxy(["--config", "config.yaml", *args], workdir, env or {})


def client(proxy: Proxy, key: str = "unused") -> openai.OpenAI:
    """The ``openai`` package's client for ``proxy``, without retries."""
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0)
