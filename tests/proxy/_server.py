"""Starting the real CLI as a subprocess on a free port, and stopping it with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ISSUE_CONFIG = (  # the issue's config, verbatim
    "model_list: [{model_name: mistral-small-latest, litellm_params: "
    '{model: mistral/mistral-small-latest, api_key: "os.environ/MISTRAL_API_KEY"}}]\n'
)
EXAMPLE_CONFIG = Path(__file__).parents[2] / "examples" / "config.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    url: str  # without /v1
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
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the proxy was not ready in {timeout}s:\n{proxy.output()}")


def stop(proxy: Proxy, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    proxy.process.send_signal(sig)
    try:
        return proxy.process.wait(timeout)
    except subprocess.TimeoutExpired:
        proxy.process.kill()
        proxy.process.wait()
        raise


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
            cwd=workdir, env={**inherited, **env}, stdout=sink, stderr=subprocess.STDOUT)
    proxy = Proxy(process, f"http://127.0.0.1:{port}", log, 0.0)
    try:
        _wait_ready(proxy, timeout=20)
        proxy.started_in = time.monotonic() - start
        yield proxy
    finally:
        if process.poll() is None:
            code = stop(proxy, stop_with)
            assert code == 0, f"exit code {code}:\n{proxy.output()}"
