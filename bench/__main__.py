"""``python -m bench``: the gatewise benchmark: the proxy, the reference forwarder and the
raw-asyncio ceiling side by side.

    python -m bench                      # the full run (~8 minutes on 2 cores)
    python -m bench --smoke              # every scenario for a moment (~20 s), no verdicts
    python -m bench --only chat --connections 16 --servers proxy,proxy-aiohttp,reference
    python -m bench --compare-litellm    # also LiteLLM's proxy, from a throwaway virtualenv
    python -m bench soak                 # the load-and-soak scenario (see bench/soak.py)
    python -m bench shared               # only the shared-state scenario (bench/shared.py)
    python -m bench observability        # only metrics and traces (bench/observability.py)

Needs Linux with 2 cores (the server under test on core 0, the load generator and the
upstream on core 1); installs nginx and wrk from the distribution's packages when missing
(``--no-install`` to use the pure-Python fallbacks instead).  Prints one table, writes the
figures to ``--out`` (``bench/results/latest.json``), the table next to it (``.md``) and a
chart (``chart.png``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report, tools
from bench.perf import ALL_SERVERS, SCENARIOS, SERVERS, Bench, Plan
from bench.procs import LOAD_CPU, ROOT, cpus, pin_self, wait_until_quiet

RESULTS = Path(__file__).parent / "results"


def _say(line: str) -> None:
    print(line, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default="perf", choices=("perf", "soak", "shared",
                                                                      "observability"))
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds of everything: checks the harness, not the figures")
    parser.add_argument("--duration", type=float, default=8.0, metavar="S",
                        help="seconds per measured run (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repeats per cell (default 2; smoke 1)")
    parser.add_argument("--servers", type=_names(ALL_SERVERS), default=None,
                        metavar="NAMES", help="comma-separated servers to measure side by "
                        f"side, of {', '.join(ALL_SERVERS)} (default: "
                        f"{','.join(SERVERS)}; proxy-aiohttp is the proxy on aiohttp)")
    parser.add_argument("--only", type=_names(SCENARIOS), default=None, metavar="SCENARIOS",
                        help=f"comma-separated scenarios, of {', '.join(SCENARIOS)} "
                        "(default: all)")
    parser.add_argument("--connections", type=_numbers, default=None, metavar="N,N",
                        help="chat's connection counts (default 1,16,64)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON to write (default bench/results/latest.json; "
                             "soak: bench/results/soak.json)")
    parser.add_argument("--compare-litellm", action="store_true",
                        help="also measure LiteLLM's proxy (pip-installed into a throwaway "
                             "virtualenv; several minutes; never in CI)")
    parser.add_argument("--litellm-venv", type=Path, default=None,
                        help="reuse (or create) this virtualenv for --compare-litellm")
    parser.add_argument("--requests", type=int, default=200_000,
                        help="soak: total requests (default %(default)s)")
    parser.add_argument("--no-install", action="store_true",
                        help="never install anything: fall back to pure Python")
    parser.add_argument("--fallback", action="store_true",
                        help="use the pure-Python upstream and load loop even where nginx "
                             "and wrk are installed")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="first wait up to S seconds for the machine to be quiet (other "
                             "processes using < 10 %% of a core for 5 s)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working directory (configs, server logs)")
    return parser


def _names(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(allowed)}")
        return names
    return parse


def _numbers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated numbers, e.g. 16 or 1,16") from None


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except OSError:
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _distro() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def meta(found: tools.Tools, smoke: bool, plan: Plan) -> dict[str, Any]:
    from gatewise import __version__

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "gatewise_version": __version__,
        "git": _git("rev-parse", "--short", "HEAD") + ("+dirty" if _git("status", "--porcelain",
                                                                         "src") else ""),
        "cpu": _cpu_model(), "cores": os.cpu_count(), "cores_usable": cpus(),
        "kernel": platform.release(), "os": _distro(),
        "python": platform.python_version(),
        "pinning": {"server": "core 0", "load generator and upstream": "core 1"}
        if cpus() >= 2 else "none (fewer than 2 cores)",
        "tools": {"upstream": found.upstream, "load": found.load,
                  "installed_now": found.installed},
        "smoke": smoke, "seconds_per_run": plan.seconds, "repeats": plan.repeats,
        "loadavg_start": _loadavg(),
    }


def _perf(args: argparse.Namespace, found: tools.Tools, workdir: Path) -> int:
    plan = Plan.smoke() if args.smoke else Plan.full(args.duration)
    if args.repeats:
        plan.repeats = args.repeats
    if args.servers:
        plan.servers = args.servers
        plan.workers = tuple(n for n in plan.workers if n in args.servers)
    if args.only:
        plan.scenarios = args.only
    if args.connections:
        plan.concurrency = args.connections
    out: Path = args.out or RESULTS / "latest.json"
    results: dict[str, Any] = {"meta": meta(found, args.smoke, plan)}
    started = time.monotonic()
    bench = Bench(plan, found, workdir, _say)
    results.update(bench.run())
    if args.compare_litellm:
        from bench import litellm

        results["litellm"] = litellm.measure(bench, args.litellm_venv, _say)
    results["meta"]["loadavg_end"] = _loadavg()
    results["meta"]["runs_repeated_busy_machine"] = bench.disturbed
    results["meta"]["total_seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = [t.as_dict() for t in report.targets(results)]
    table = report.table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(table + "\n")
    chart = ""
    if found.chart:
        from bench.chart import draw

        chart = str(draw(results, out.with_name("chart.png")))
    m = results["meta"]
    _say(f"\ngatewise {m['gatewise_version']} ({m['git']}) on {m['cpu']}, {m['cores']} cores, "
         f"{m['os']}, Python {m['python']}; upstream {m['tools']['upstream']}, load "
         f"{m['tools']['load']}; {plan.seconds:g} s per run, best of {plan.repeats}\n")
    _say(table)
    _say("\n" + report.summary(results) + (" (smoke run: figures not meaningful)"
                                          if args.smoke else ""))
    _say(f"wrote {out}, {out.with_suffix('.md')}" + (f", {chart}" if chart else
                                                     " (no chart: matplotlib missing)"))
    failed = any(t["passed"] is False for t in results["targets"])
    return 1 if failed and args.strict and not args.smoke else 0


ALONE = {"shared": ("shared_state", "shared.json"),
         "observability": ("observability", "observability.json")}
"""The scenarios that also run alone: their key in the results, their file."""


def _alone(args: argparse.Namespace, found: tools.Tools, workdir: Path) -> int:
    """One scenario alone (the shared-state one, observability; they are part of the full
    run too)."""
    name, default = ALONE[args.scenario]
    plan = Plan.smoke() if args.smoke else Plan.full(args.duration)
    if args.repeats:
        plan.repeats = args.repeats
    out: Path = args.out or RESULTS / default
    results: dict[str, Any] = {"meta": meta(found, args.smoke, plan)}
    bench = Bench(plan, found, workdir, _say)
    bench.start_upstream()
    try:
        results[name] = getattr(bench, name)()
    finally:
        assert bench.upstream is not None
        bench.upstream.stop()
    results["meta"]["loadavg_end"] = _loadavg()
    results["meta"]["runs_repeated_busy_machine"] = bench.disturbed
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    _say(f"wrote {out}")
    return 0


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every server the run started is stopped."""
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main() -> int:
    args = _parser().parse_args()
    _exit_on_sigterm()
    if not sys.platform.startswith("linux"):
        _say("bench: Linux only (taskset, /proc)")
        return 2
    pin_self(LOAD_CPU)
    found = tools.ensure(install=not args.no_install, say=_say, fallback=args.fallback)
    _say(f"bench: upstream {found.upstream}; load {found.load}; "
         f"{cpus()} usable cores" + ("" if cpus() >= 2 else " (no pinning: figures are rough)"))
    if args.wait_quiet:
        busy = wait_until_quiet(10.0, args.wait_quiet, say=_say)
        _say(f"bench: other processes use {busy:.0f} % of a core")
    workdir = Path(tempfile.mkdtemp(prefix="gatewise-bench-"))
    ok = False
    try:
        if args.scenario == "soak":
            from bench import soak

            code = soak.main(args, found, workdir, _say)
        elif args.scenario in ALONE:
            code = _alone(args, found, workdir)
        else:
            code = _perf(args, found, workdir)
        ok = True
        return code
    finally:
        if args.keep or not ok:
            _say(f"bench: configs and server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
