"""What the benchmark needs, found or installed (and said so).

- ``nginx`` (the fixed-answer upstream) and ``wrk`` (the load generator): from the
  distribution's packages (``apt-get``, ``dnf``, ``apk``, ``pacman`` or ``brew``) when
  missing and we may install; otherwise the pure-Python fallbacks (``bench/upstream.py``,
  the keep-alive loop in ``bench/load.py``), which the results name in ``meta.tools``.
- Python packages: the proxy extra (uvicorn, uvloop, httptools, PyYAML) and matplotlib for
  the chart, with pip (``pip install -e ".[proxy,bench]"`` does it all up front).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

# tool -> package name per package manager
_PACKAGES = {
    "nginx": {"apt-get": "nginx-light", "dnf": "nginx", "apk": "nginx", "pacman": "nginx",
              "brew": "nginx"},
    "wrk": {"apt-get": "wrk", "dnf": "wrk", "apk": "wrk", "pacman": "wrk", "brew": "wrk"},
}
# import name -> pip requirement
_PYTHON = {"uvicorn": "uvicorn>=0.30", "uvloop": "uvloop>=0.19", "httptools": "httptools>=0.6",
           "yaml": "pyyaml>=6", "aiohttp": "aiohttp>=3.9", "matplotlib": "matplotlib>=3.8"}


@dataclass
class Tools:
    upstream: str  # "nginx 1.22.1" or "python (bench/upstream.py)"
    load: str      # "wrk 4.1.0" or "python (asyncio keep-alive loop)"
    chart: bool
    installed: list[str]

    @property
    def nginx(self) -> bool:
        return self.upstream.startswith("nginx")

    @property
    def wrk(self) -> bool:
        return self.load.startswith("wrk")


def _version(cmd: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "?"


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)


def _package_manager() -> str | None:
    return next((m for m in ("apt-get", "dnf", "apk", "pacman", "brew") if shutil.which(m)),
                None)


def _install_system(tools: list[str], say: Callable[[str], None]) -> list[str]:
    manager = _package_manager()
    if manager is None:
        say(f"bench: {', '.join(tools)} missing and no known package manager: using the "
            "pure-Python fallbacks")
        return []
    packages = [_PACKAGES[t][manager] for t in tools]
    sudo = [] if manager == "brew" or os.geteuid() == 0 else (
        ["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        say(f"bench: {', '.join(tools)} missing and not root: using the pure-Python fallbacks")
        return []
    commands = {
        "apt-get": [["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]],
        "dnf": [["dnf", "install", "-y", "-q", *packages]],
        "apk": [["apk", "add", "--quiet", *packages]],
        "pacman": [["pacman", "-S", "--noconfirm", "--needed", *packages]],
        "brew": [["brew", "install", *packages]],
    }[manager]
    say(f"bench: installing {', '.join(packages)} with {manager} (missing: {', '.join(tools)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in commands:
        done = subprocess.run([*sudo, *cmd] if manager != "brew" else cmd, env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            say(f"bench: `{' '.join(cmd)}` failed ({done.returncode}):\n"
                f"{(done.stdout + done.stderr)[-1500:]}")
            return []
    return packages


def _install_python(missing: list[str], say: Callable[[str], None]) -> list[str]:
    requirements = [_PYTHON[m] for m in missing]
    say(f"bench: installing {', '.join(requirements)} with pip (missing: {', '.join(missing)})")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *requirements],
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        say(f"bench: pip failed:\n{(done.stdout + done.stderr)[-1500:]}")
        return []
    importlib.invalidate_caches()
    return requirements


def ensure(install: bool, say: Callable[[str], None] = print, fallback: bool = False
           ) -> Tools:
    """Find the tools, installing the missing ones when ``install``; never raises for a
    missing tool that has a fallback.  ``fallback``: use the pure-Python ones regardless."""
    installed: list[str] = []
    missing_py = [m for m in _PYTHON if importlib.util.find_spec(m) is None]
    if missing_py and install:
        installed += _install_python(missing_py, say)
        missing_py = [m for m in _PYTHON if importlib.util.find_spec(m) is None]
    needed_py = [m for m in missing_py if m != "matplotlib"]
    if needed_py:
        raise SystemExit(f"bench: missing Python packages {needed_py}: "
                         "pip install -e \".[proxy,bench]\"")
    chart = importlib.util.find_spec("matplotlib") is not None
    if fallback:
        return Tools("python (bench/upstream.py)", "python (asyncio keep-alive loop)", chart,
                     installed)
    missing = [t for t, found in (("nginx", _nginx_binary()), ("wrk", shutil.which("wrk")))
               if not found]
    if missing and install and sys.platform.startswith("linux"):
        installed += _install_system(missing, say)
    elif missing:
        say(f"bench: {', '.join(missing)} missing (--no-install): using the pure-Python "
            "fallbacks")
    nginx = _nginx_binary()
    upstream = ("nginx " + _version([nginx, "-v"], r"nginx/([\w.]+)") if nginx
                else "python (bench/upstream.py)")
    load = ("wrk " + _version(["wrk", "-v"], r"wrk (?:debian/)?([\w.+-]+)")
            if shutil.which("wrk") else "python (asyncio keep-alive loop)")
    return Tools(upstream, load, chart, installed)
