"""`import gatewise` must be free: no provider, catalogue, HTTP or server code, no I/O."""

import json
import subprocess
import sys

PROBE = r"""
import builtins, json, os, sys
opened = []
real_open = builtins.open
def spy_open(file, *a, **k):
    opened.append(str(file))
    return real_open(file, *a, **k)
builtins.open = spy_open
env_reads = []
class SpyEnviron(type(os.environ)):
    pass
real_getitem = type(os.environ).__getitem__
def spy_getitem(self, key):
    env_reads.append(key)
    return real_getitem(self, key)
type(os.environ).__getitem__ = spy_getitem
before = set(sys.modules)
import gatewise
loaded = sorted(set(sys.modules) - before)
type(os.environ).__getitem__ = real_getitem
builtins.open = real_open
print(json.dumps({"loaded": loaded, "opened": opened, "env": env_reads}))
"""


def _probe() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True).stdout
    result: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    return result


def test_import_loads_nothing_heavy_and_does_no_io() -> None:
    result = _probe()
    heavy = ("gatewise.providers", "gatewise.catalogue", "gatewise._http", "gatewise.proxy",
             "gatewise._client", "httpx", "aiohttp", "pydantic", "orjson", "yaml", "uvicorn",
             "socket", "ssl", "asyncio", "httptools")
    assert not [m for m in result["loaded"] if m.startswith(heavy)], result["loaded"]
    assert result["opened"] == []
    assert result["env"] == []


def test_public_names_resolve_lazily() -> None:
    import gatewise

    for name in gatewise.__all__:
        assert getattr(gatewise, name) is not None
    assert callable(gatewise.completion)
    assert issubclass(gatewise.RateLimitError, gatewise.APIError)


def test_the_proxy_with_its_own_transport_loads_no_aiohttp() -> None:
    """The proxy's default upstream transport is its own: aiohttp (a tenth of a second of
    start-up) loads only for ``upstream_transport: aiohttp`` or the SDK's async client."""
    probe = ("import sys, gatewise.proxy.app, gatewise.proxy.server; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"
