"""The proxy's shared state: Redis when configured, else each worker its share.

With ``router_settings.redis_host`` (or ``redis_url``, ``REDIS_URL``...) every worker and
every instance keeps its live state in one Redis (:mod:`gatewise.state.redis`): limits,
budgets and cooldowns are exact across all of them, and identity changes reach all of
them.  Without it, ``--workers N`` would silently make every limit N times larger; so each
worker enforces 1/N of each (``AppState.share``): the router's deployment rpm/tpm here,
the access layer's key, team, user and end-user limits and budgets where it builds their
scopes.  The kernel spreads connections evenly over the workers, so the limits hold
overall (a worker may refuse while another still has room); the startup output says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatewise.proxy.config import ProxyConfig
    from gatewise.state.redis import SharedState

__all__ = ["WORKERS_ENV", "divided", "make_shared", "startup_lines", "workers_from_env"]

WORKERS_ENV = "GATEWISE_WORKERS"
"""How the CLI tells each worker how many there are (read by ``app.factory``)."""


def workers_from_env(environ: Mapping[str, str] = os.environ) -> int:
    text = environ.get(WORKERS_ENV, "1")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def make_shared(config: ProxyConfig, workers: int) -> tuple[SharedState | None, int]:
    """The shared state (None without Redis), and each worker's share of a limit."""
    if config.redis is not None:
        from gatewise.state.redis import SharedState

        return SharedState(config.redis, workers=workers), 1
    return None, max(1, workers)


def divided(entries: list[dict[str, Any]], share: int) -> list[dict[str, Any]]:
    """Router ``model_list`` entries with 1/``share`` of each rpm and tpm (at least 1)."""
    if share <= 1:
        return entries
    out = []
    for entry in entries:
        params = dict(entry["params"])
        for name in ("rpm", "tpm"):
            if params.get(name) is not None:
                params[name] = max(1, params[name] // share)
        out.append({**entry, "params": params})
    return out


def startup_lines(shared: SharedState | None, workers: int, share: int) -> list[str]:
    if shared is not None:
        s = shared.settings
        return [f"shared state: Redis at {s.address}: limits, budgets and cooldowns shared "
                f"by every worker and instance using it (redis_failure_mode: "
                f"{s.failure_mode}, bounded wait {s.timeout:g} s)"]
    if share > 1:
        return [f"WARNING: --workers {workers} without Redis: each worker enforces 1/{share} "
                "of every limit (deployment rpm/tpm; key, team and user limits and budgets), "
                "so the limits hold overall but a worker may refuse while another has room. "
                "Set router_settings.redis_host (or REDIS_URL) to share exact limits across "
                "workers and instances."]
    return []
