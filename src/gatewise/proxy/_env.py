"""Environment for the config: a ``.env`` file, and ``os.environ/NAME`` references."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

ENV_PREFIX = "os.environ/"


def load_dotenv_file(path: Path, environ: MutableMapping[str, str] = os.environ) -> bool:
    """Load ``path`` (KEY=value lines) into ``environ`` without overriding what is set.

    python-dotenv when it is installed (quoting, ``export``, interpolation), else a small
    reader for the common ``KEY=value`` / ``KEY="value"`` lines.
    """
    if not path.is_file():
        return False
    try:
        from dotenv import dotenv_values
    except ImportError:  # pragma: no cover - python-dotenv is in the proxy extra
        values = _read_simple(path)
    else:
        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    for key, value in values.items():
        environ.setdefault(key, value)
    return True


def _read_simple(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def env_name(value: object) -> str | None:
    """``"os.environ/NAME"`` -> ``"NAME"``; anything else -> None."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        return value[len(ENV_PREFIX):].strip()
    return None
