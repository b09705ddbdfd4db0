"""Where the proxy spends its time under load: py-spy samples the pinned proxy while wrk
drives one workload, and the collapsed stacks are summed into the functions that cost the
most (own time and with callees).  Also writes a flame graph (SVG).

Run: ``python -m bench.profile [chat|stream|paced|embeddings] [--seconds 10]
[--connections 16] [--server proxy-keys]`` (the proxy configurations of
``bench/servers.py``'s ``PROXIES``; needs ``pip install py-spy``; writes
``bench/results/profile-<workload>[-<server>].{svg,txt}``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from bench import nginx, servers
from bench.load import LoadResult, run_load
from bench.procs import LOAD_CPU, free_port, pin_self, pinned

RESULTS = Path(__file__).parent / "results"
WORKLOADS = {"chat": servers.CHAT, "stream": servers.STREAM, "paced": servers.PACED_STREAM,
             "embeddings": servers.EMBED}


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (package/module.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


# The frames every sample shares (process start, uvicorn's loop): left out of "with callees".
_OUTER = ("(<frozen runpy>)", "(gatewise/__main__.py)", "main (gatewise/cli.py)",
          "serve (gatewise/proxy/server.py)", "(uvicorn/server.py)", "(uvicorn/_compat.py)",
          "Runner.run (asyncio/runners.py)")
_LOOP = "Runner.run (asyncio/runners.py)"


def summarize(collapsed: str, top: int = 30) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_short(f) for f in stack.split(";") if f]
        if frames:
            leaf = frames[-1]
            own["event loop: uvloop's C code (I/O syscalls, scheduling)" if leaf == _LOOP
                else leaf] += count
        for frame in set(frames):
            if not frame.endswith(_OUTER):
                total[frame] += count
    lines = [f"{samples} samples", "", "own time (the function itself):"]
    lines += [f"  {n / samples * 100:5.1f} %  {f}" for f, n in own.most_common(top)]
    lines += ["", "with callees:"]
    lines += [f"  {n / samples * 100:5.1f} %  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def profile(workload: str, seconds: float, connections: int, out_dir: Path,
            server: str = "proxy") -> Path:
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is missing: pip install py-spy")
    pin_self(LOAD_CPU)
    stem = f"profile-{workload}" + ("" if server == "proxy" else f"-{server}")
    with tempfile.TemporaryDirectory(prefix="gatewise-profile-") as tmp, \
            contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        database_url = None
        if servers.PROXIES[server].postgres:
            from bench.ledger import durable_postgres

            database_url = stack.enter_context(durable_postgres(LOAD_CPU))
        redis_port = None
        if servers.PROXIES[server].redis:  # the bench's own redis-server, on the load core
            from bench.shared import RedisServer

            redis = RedisServer(free_port()).start()
            stack.callback(redis.stop)
            redis_port = redis.port
        upstream = nginx.service(workdir / "nginx", free_port()).start()
        proxy = servers.proxy(workdir, f"http://127.0.0.1:{upstream.port}", name=server,
                              database_url=database_url, redis_port=redis_port)
        try:
            proxy.start()
            work = WORKLOADS[workload]
            if proxy.key is not None:
                work = replace(work, key=proxy.key)
            run_load(proxy.port, work, connections, 2, True)  # warm-up
            result: list[LoadResult] = []
            load = threading.Thread(target=lambda: result.append(
                run_load(proxy.port, work, connections, seconds + 2, True)))
            load.start()
            collapsed = workdir / "stacks.txt"
            svg = out_dir / f"{stem}.svg"
            out_dir.mkdir(parents=True, exist_ok=True)
            for fmt, target in (("raw", collapsed), ("flamegraph", svg)):
                subprocess.run(pinned([spy, "record", "--nonblocking", "--rate", "400",
                                       "--duration", str(max(1, round(seconds / 2))),
                                       "--format", fmt, "--output", str(target),
                                       "--pid", str(proxy.pid)], LOAD_CPU),
                               check=True, capture_output=True)
            load.join()
            text = summarize(collapsed.read_text())
            (out_dir / f"{stem}.collapsed").write_text(collapsed.read_text())
        finally:
            proxy.stop()
            upstream.stop()
    report = out_dir / f"{stem}.txt"
    header = (f"gatewise {server}, {workload}, {connections} connections; under py-spy: "
              f"{result[0].rps:,.0f} req/s\n" if result else "")
    report.write_text(header + text + "\n")
    print(header + text)
    print(f"\nwrote {report} and {svg}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", nargs="?", default="chat", choices=sorted(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--server", default="proxy", choices=sorted(servers.PROXIES))
    args = parser.parse_args()
    profile(args.workload, args.seconds, args.connections, args.out, args.server)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
