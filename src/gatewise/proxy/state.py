"""``AppState``: what the proxy's handlers share, built once per app.

Everything is made when the app is created, so a bad config fails before the server
binds: the deployments, the ``Router`` that serves them (given only the usable ones, with
their keys unwrapped at that point), and the precomputed ``/models`` answers.  The router's
``AsyncClient`` sends through the transport ``general_settings.upstream_transport`` names
(the lean one by default), whose pools open on first use, inside the event loop that
serves.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from gatewise import __version__
from gatewise.catalogue import Catalogue, default_catalogue
from gatewise.proxy._router_settings import CHAINS
from gatewise.proxy.config import DEFAULT_REQUEST_TIMEOUT, ConfigError, ProxyConfig
from gatewise.proxy.deployments import Deployment, build_deployments
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.router._deadline import PerLoop

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient
    from gatewise._http._async import AsyncTransport
    from gatewise.router import Router

_MAX_ECHO = 100  # characters of a client's model name quoted back in an error


def upstream_transport(name: str) -> AsyncTransport:
    """The transport ``general_settings.upstream_transport`` names (its pools open in the
    serving loop, on first use)."""
    if name == "aiohttp":
        from gatewise._http._async import AiohttpTransport

        return AiohttpTransport()
    from gatewise._http._h1 import LeanTransport

    return LeanTransport()


class CallIds:
    """Call ids (32 hex digits): a random half drawn once per process, then a counter --
    unique across workers and restarts, and a fraction of the cost of 16 random bytes a
    call (``os.urandom`` is a system call)."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex().encode()  # each worker builds its own app state
        self._count = itertools.count()

    def __call__(self) -> bytes:
        return b"%s%016x" % (self._prefix, next(self._count))


class AppState:
    def __init__(self, config: ProxyConfig, catalogue: Catalogue | None = None) -> None:
        self.config = config
        self.version = __version__
        self.catalogue = catalogue or default_catalogue()
        self.deployments = build_deployments(config, self.catalogue)
        self.by_id = {d.id: d for d in self.deployments}
        self.by_name: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            self.by_name.setdefault(deployment.model_name, []).append(deployment)
        settings = dict(config.router_settings)
        aliases: dict[str, dict[str, Any]] = settings.pop("model_group_alias", {})
        self.notes: list[str] = []  # for the startup report
        usable = {name: [d for d in group if d.problem is None]
                  for name, group in self.by_name.items()}
        served = {name for name, group in usable.items() if group}
        # The names the router serves (model names and aliases); those it cannot -> why.
        self.unavailable: dict[str, Deployment] = {
            name: group[0] for name, group in self.by_name.items() if name not in served}
        for alias, target in aliases.items():
            if target["model"] not in served:
                self.unavailable[alias] = self.by_name[target["model"]][0]
        self.served = served | {a for a, t in aliases.items() if t["model"] in served}
        listed = [*self.by_name, *(a for a, t in aliases.items() if not t["hidden"])]
        self.listed = listed
        self.aliases = aliases
        self.names = ", ".join(listed)
        self.master_key = config.master_key
        self.max_body = config.max_request_body_bytes
        self.client_timeout = config.client_timeout
        self.deadlines = PerLoop()  # for reading request bodies
        self.new_call_id = CallIds()
        self.created = int(time.time())
        self.models_body = orjson.dumps(
            {"object": "list", "data": [self._model_card(n) for n in listed]})
        self.model_bodies = {n: orjson.dumps(self._model_card(n)) for n in listed}
        self._openapi: bytes | None = None
        self.client = self._make_client()
        self._router = self._make_router(settings, aliases, served) if served else None

    def openapi_body(self) -> bytes:
        """The OpenAPI document for the names this proxy can serve now, made once."""
        if self._openapi is None:
            from gatewise.proxy.openapi import openapi_document

            served = [n for n in self.listed if n in self.served]
            embedding = [n for n in served if self.mode_of(n) == "embedding"]
            chat = [n for n in served if n not in embedding]
            self._openapi = orjson.dumps(openapi_document(
                chat, embedding, secured=self.master_key is not None))
        return self._openapi

    def mode_of(self, name: str) -> str:
        """``chat`` or ``embedding``: the mode of the deployments behind ``name``."""
        target = self.aliases[name]["model"] if name in self.aliases else name
        return self.by_name[target][0].mode

    def _model_card(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "gatewise"}

    def _make_client(self) -> AsyncClient:
        from gatewise._async_client import AsyncClient

        # The router passes each deployment's options and its own timeout on every call,
        # and makes every retry decision itself (the SDK's retries are off per call).
        return AsyncClient(drop_params=self.config.drop_params, catalogue=self.catalogue,
                           ssl_verify=self.config.ssl_verify,
                           transport=upstream_transport(self.config.upstream_transport))

    def _make_router(self, settings: dict[str, Any], aliases: Mapping[str, Mapping[str, Any]],
                     served: set[str]) -> Router:
        from gatewise.router import Router
        from gatewise.router.fallbacks import WILDCARD

        config = self.config
        if config.num_retries is not None:
            settings.setdefault("num_retries", config.num_retries)
        # Every call has a deadline: the config's, else the default (600 s).
        settings.setdefault("timeout", config.request_timeout or DEFAULT_REQUEST_TIMEOUT)
        aliases = {a: t for a, t in aliases.items() if t["model"] in served}
        for key in CHAINS:
            if key in settings:
                settings[key] = self._usable_chains(settings[key], key, served | {WILDCARD})
        entries = [d.router_entry() for d in self.deployments if d.problem is None]
        try:
            return Router(entries, model_group_alias=aliases, client=self.client, **settings)
        except ValueError as exc:
            raise ConfigError([f"{config.source}: router_settings: {exc}"]) from None

    def _usable_chains(self, chains: dict[str, list[str]], key: str, served: set[str]
                       ) -> dict[str, list[str]]:
        """Fallback chains without the names that cannot serve (noted for the startup
        report): the router is only given the deployments that can."""
        out: dict[str, list[str]] = {}
        for group, targets in chains.items():
            dropped = sorted({n for n in (group, *targets) if n not in served})
            if dropped:
                self.notes.append(f"router_settings.{key}: {', '.join(dropped)} cannot be "
                                  f"served (see above), left out of {group!r}'s fallbacks")
            kept = [t for t in targets if t in served]
            if group in served and kept:
                out[group] = kept
        return out

    @property
    def router(self) -> Router:
        router = self._router
        if router is None:  # only reached when no deployment is usable
            raise ProxyError(503, "no deployment of this proxy can serve: see its startup log",
                             type="api_error", code="deployment_not_configured")
        return router

    async def aclose(self) -> None:
        if self._router is not None:
            await self._router.aclose()
        await self.client.aclose()

    def check_served(self, name: Any) -> None:
        """Raise the error to answer with when the proxy cannot route ``name``."""
        if type(name) is not str or name not in self.served:
            raise self._no_route(name)

    def _no_route(self, name: Any) -> ProxyError:
        if name is None:
            return bad_request(f"you must provide a model parameter: one of {self.names}",
                               param="model")
        if not isinstance(name, str):
            return bad_request(f"`model` must be a string: one of {self.names}", param="model")
        unusable = self.unavailable.get(name)
        if unusable is not None:
            return unusable.unavailable(name)
        return self.model_not_found(name)

    def model_not_found(self, name: str) -> ProxyError:
        shown = name if len(name) <= _MAX_ECHO else name[:_MAX_ECHO] + "…"
        return ProxyError(404, f"The model `{shown}` does not exist on this proxy. "
                               f"Available models: {self.names}",
                          param="model", code="model_not_found")

    def missing_env(self) -> dict[str, list[Deployment]]:
        """Each unset variable -> the deployments it disables."""
        missing: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            for name in deployment.missing_env:
                missing.setdefault(name, []).append(deployment)
        return missing
