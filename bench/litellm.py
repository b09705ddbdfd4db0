"""``--compare-litellm``: the same load against LiteLLM's proxy, so users can see the
comparison for themselves.  Off by default and never in CI.

LiteLLM (``litellm[proxy]``) is pip-installed into a throwaway virtualenv (or the one given
with ``--litellm-venv``, created when missing and kept), started pinned to the server core
with the same config (LiteLLM reads the same ``model_list`` form; ``settings`` becomes
``litellm_settings``) and measured exactly as the proxy and the reference are.  Its
model-price map is read from the package (``LITELLM_LOCAL_MODEL_COST_MAP``): no network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import memory, servers, startup
from bench.load import stream_timing
from bench.procs import Service, free_port

if TYPE_CHECKING:
    from bench.perf import Bench

ENV = {**servers.ENV, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
       "LITELLM_TELEMETRY": "False", "DISABLE_ADMIN_UI": "True", "PYTHONWARNINGS": "ignore"}


def venv(path: Path | None, say: Callable[[str], None]) -> tuple[Path, bool]:
    """A virtualenv with ``litellm[proxy]``; (its path, whether it is throwaway)."""
    throwaway = path is None
    root = Path(tempfile.mkdtemp(prefix="gatewise-bench-litellm-")) if path is None else path
    binary = root / "bin" / "litellm"
    if not binary.exists():
        say(f"litellm: installing litellm[proxy] into {'a throwaway' if throwaway else 'the'}"
            f" virtualenv {root} (a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run([str(root / "bin" / "pip"), "install", "--quiet", "litellm[proxy]"],
                       check=True, timeout=1800)
    version = subprocess.run([str(root / "bin" / "python"), "-c",
                              "import importlib.metadata as m; print(m.version('litellm'))"],
                             capture_output=True, text=True, check=False).stdout.strip()
    say(f"litellm: version {version}")
    return root, throwaway


def service(workdir: Path, upstream: str, root: Path) -> Service:
    config = workdir / "litellm.yaml"
    config.write_text(servers.proxy_config(upstream).replace("\nsettings:",
                                                             "\nlitellm_settings:"))
    port = free_port()
    return Service("litellm", [str(root / "bin" / "litellm"), "--config", str(config),
                               "--host", "127.0.0.1", "--port", str(port),
                               "--num_workers", "1"],
                   port, env=ENV, cwd=workdir, log=workdir / f"litellm-{port}.log",
                   start_timeout=180.0)


def measure(bench: Bench, path: Path | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Chat at 1/16/64, streaming, embeddings, memory and cold start of LiteLLM's proxy,
    in the same shape as the proxy's figures (under the name ``litellm``)."""
    from bench.perf import CONCURRENCY

    root, throwaway = venv(path, say)
    bench.start_upstream()
    out: dict[str, Any] = {}
    try:
        def make() -> Service:
            return service(bench.workdir, bench.upstream_url, root)

        with make() as running:
            say("litellm: chat, streaming, embeddings")
            for work in (servers.CHAT, servers.STREAM, servers.EMBED):  # its first calls are slow
                bench.load(running, work, 16, max(2.0, bench.plan.warmup))
            out["chat"] = bench.cells({"litellm": running}, servers.CHAT, CONCURRENCY)
            out["stream"] = bench.cells({"litellm": running}, servers.STREAM, (16,))
            timing = stream_timing(running.port, servers.STREAM, bench.plan.ttfb_seconds)
            cell = out["stream"]["litellm"]["16"]
            cell.update(events_per_stream=timing.events_per_stream,
                        events_per_s=cell["rps"] * timing.events_per_stream,
                        ttfb_p50_ms=timing.ttfb_p50_ms, ttfb_p99_ms=timing.ttfb_p99_ms)
            out["embeddings"] = bench.cells({"litellm": running}, servers.EMBED, (16,))
        workloads = {w.name: w for w in (servers.CHAT, servers.STREAM, servers.EMBED)}
        with make() as fresh:
            # LiteLLM serves tens of requests/s here: its memory is taken after 60 s of load.
            out["memory"] = {"litellm": memory.drive(
                fresh, workloads, bench.plan.checkpoints[:1], bench.tools.wrk,
                say=say, max_seconds=60.0 if bench.plan.seconds >= 3 else 3.0).as_dict()}
        out["startup"] = {"litellm": startup.cold_start_ms(make, 3)}
    finally:
        assert bench.upstream is not None
        bench.upstream.stop()
        if throwaway:
            shutil.rmtree(root, ignore_errors=True)
    return out
