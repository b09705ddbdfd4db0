"""``AppState``: what the proxy's handlers share, built once per app.

Everything is made when the app is created, so a bad config fails before the server
binds: the deployments, the ``Router`` that serves them (given only the usable ones, with
their keys unwrapped at that point), and the precomputed ``/models`` answers.  The router's
``AsyncClient`` sends through the transport ``general_settings.upstream_transport`` names
(the lean one by default), whose pools open on first use, inside the event loop that
serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from gatewise import __version__
from gatewise.catalogue import Catalogue, ModelInfo, default_catalogue
from gatewise.catalogue.modes import served_modes
from gatewise.proxy._memory import BigAnswers
from gatewise.proxy._passthrough import pass_through_target
from gatewise.proxy._router_settings import CHAINS
from gatewise.proxy.access.control import AccessControl
from gatewise.proxy.access.estimate import Estimator
from gatewise.proxy.config import DEFAULT_REQUEST_TIMEOUT, ConfigError, ProxyConfig
from gatewise.proxy.deployments import Deployment, build_deployments, mock_only_names
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.proxy.modes import group_modes, mode_mismatch
from gatewise.proxy.record import Sinks
from gatewise.proxy.shared import divided, make_shared
from gatewise.proxy.wildcards import wildcard_names
from gatewise.router._deadline import PerLoop
from gatewise.router.store import MemoryStore, StateStore
from gatewise.router.wildcards import is_pattern

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient
    from gatewise._http._async import AsyncTransport
    from gatewise.db.database import Database
    from gatewise.db.ledger import LedgerWriter
    from gatewise.router import Router
    from gatewise.state.redis import SharedState
    from gatewise.telemetry.setup import Telemetry

logger = logging.getLogger("gatewise.proxy")

_MAX_ECHO = 100  # characters of a client's model name quoted back in an error


def upstream_transport(name: str) -> AsyncTransport:
    """The transport ``general_settings.upstream_transport`` names (its pools open in the
    serving loop, on first use)."""
    if name == "aiohttp":
        from gatewise._http._aiohttp import AiohttpTransport

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
    def __init__(self, config: ProxyConfig, catalogue: Catalogue | None = None, *,
                 workers: int = 1) -> None:
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
        # The names each wildcard group serves (model_name "*": every model it may call).
        self.wildcards = wildcard_names(self.by_name, self.catalogue,
                                        taken={*self.by_name, *aliases})
        # The names the router serves (model names, aliases, the names of wildcard groups);
        # those it cannot -> why.
        self.unavailable: dict[str, Deployment] = {
            name: group[0] for name, group in self.by_name.items() if name not in served}
        for alias, target in aliases.items():
            if target["model"] not in served:
                self.unavailable[alias] = self.by_name[target["model"]][0]
        for name, wild in self.wildcards.items():
            if wild.group not in served:
                self.unavailable[name] = self.by_name[wild.group][0]
        plain = [name for name in self.by_name if not is_pattern(name)]
        self.served = ({n for n in plain if n in served}
                       | {a for a, t in aliases.items() if t["model"] in served}
                       | {n for n, w in self.wildcards.items() if w.group in served})
        named = [*plain, *(a for a, t in aliases.items() if not t["hidden"])]
        listed = [*named, *(n for n, w in self.wildcards.items() if w.listed)]
        self.listed = listed
        self.aliases = aliases
        # The names whose calls reach only mock entries: the only ones a request's own
        # mock_response may be used on.
        mock_only = mock_only_names(
            self.by_name, [settings.get(key, {}) for key in CHAINS], aliases)
        self.mock_only = mock_only | {n for n, w in self.wildcards.items()
                                      if w.group in mock_only}
        # In messages, a wildcard group stands for its names (there may be dozens).
        self.names = ", ".join([*named, *(n for n in self.by_name if is_pattern(n))])
        self.master_key = config.master_key
        self.max_body = config.max_request_body_bytes
        self.client_timeout = config.client_timeout
        self.deadlines = PerLoop()  # for reading request bodies
        self.big_answers = BigAnswers()
        self.new_call_id = CallIds()
        self.created = int(time.time())
        # What each name serves (its group's modes; None: not known, every route tried).
        self.modes = {n: group_modes(d.modes for d in self._group(n))
                      for n in [*self.by_name, *aliases]}
        self.modes.update({n: served_modes(w.info) for n, w in self.wildcards.items()})
        self.models_body = orjson.dumps(
            {"object": "list", "data": [self._model_card(n) for n in listed]})
        self.model_bodies = {n: orjson.dumps(self._model_card(n))
                             for n in (*listed, *self.wildcards)}
        self._openapi: bytes | None = None
        # The production layer: live state (shared with the router), who may call what,
        # the sinks every request's record goes to, and the database once opened.
        # -- shared state (gatewise.proxy.shared): Redis, or each worker its share --------
        self.workers = workers
        self.shared: SharedState | None
        self.shared, self.share = make_shared(config, workers)
        """``share``: without Redis, each of the N workers enforces 1/N of every limit (the
        router's deployment rpm/tpm, the access layer's scopes)."""
        self.clock: Callable[[], float] = (time.monotonic if self.shared is None
                                           else self.shared.clock)
        self.live: StateStore = MemoryStore() if self.shared is None else self.shared.store
        # -----------------------------------------------------------------------------------
        self.estimator = Estimator(self._group_prices())
        self.sinks = Sinks([self.estimator])
        self.access = AccessControl(
            master_key=config.master_key, estimator=self.estimator,
            aliases={a: t["model"] for a, t in aliases.items()}, share=self.share,
            allow_on_db_unavailable=config.allow_requests_on_db_unavailable)
        if self.shared is not None:  # identity changes, to and from the other processes
            self.access.listeners.append(self.shared.channel.publish)
            self.shared.channel.on_change(self.access.dropped)
        self.telemetry: Telemetry | None = None  # metrics, traces, request log: see start()
        self.message_logging = False  # whether records keep message content (traces)
        self.database_url = config.database()
        self.db: Database | None = None
        self.ledger: LedgerWriter | None = None  # its counters are the ledger's metrics
        self._tasks: list[asyncio.Task[None]] = []
        self.client = self._make_client()
        self._router = self._make_router(settings, aliases, served) if served else None
        self.max_audio_upload = config.max_audio_upload_bytes
        self.pass_through = pass_through_target(config, self.deployments)

    def cost_of(self, deployment_id: str, usage: Any, name: str | None = None
                ) -> float | None:
        """What a call for ``name`` on ``deployment_id`` that used ``usage`` costs (for
        settlements; a wildcard deployment's calls are priced as the model called)."""
        deployment = self.by_id.get(deployment_id)
        if deployment is None:
            return None
        info = self.priced_as(name) if deployment.wildcard and name else None
        return deployment.cost(usage, info)

    def _group_prices(self) -> dict[str, tuple[float, float]]:
        """Each model name's dearest input and output price per token (for estimates)."""
        prices: dict[str, tuple[float, float]] = {}
        for deployment in self.deployments:
            config, info = deployment.config, deployment.info
            price = (0.0, 0.0) if deployment.is_mock else (
                config.input_cost_per_token or info.input_cost_per_token or 0.0,
                config.output_cost_per_token or info.output_cost_per_token or 0.0)
            seen = prices.get(deployment.model_name, (0.0, 0.0))
            prices[deployment.model_name] = (max(seen[0], price[0]), max(seen[1], price[1]))
        return prices

    async def start(self) -> None:
        """Open what lives outside the process (Redis, the database), and start the
        telemetry, in the serving loop.  Neither Redis nor the database stops the proxy from
        starting: without Redis it runs on local state."""
        if self.config.telemetry.any:
            from gatewise.telemetry.setup import install

            self.telemetry = install(self)
        if self.shared is not None:
            await self.shared.start()
        url = self.database_url
        if url is None:
            return
        from gatewise.db.database import Database, DatabaseUnavailable
        from gatewise.db.lookup import Lookup

        try:
            self.db = await Database.open(url)
        except DatabaseUnavailable as exc:
            # Serve what needs no database (the master key); say so loudly.
            logger.error("the database is unavailable: %s; virtual keys cannot be checked "
                         "and spend is not recorded until it is back (restart the proxy)", exc)
            return
        self.access.source = Lookup(self.db)
        self._tasks.append(asyncio.get_running_loop().create_task(self.access.watch()))
        if not self.config.disable_spend_logs:
            from gatewise.db.ledger import LedgerWriter
            from gatewise.db.ledger_sink import LedgerSink

            # Flushed by the sinks' close on shutdown, before the database closes.
            self.ledger = LedgerWriter(self.db, self.config.ledger)
            self.ledger.start()
            self.sinks.add(LedgerSink(self.ledger))

    def openapi_body(self) -> bytes:
        """The OpenAPI document for the names this proxy can serve now, made once."""
        if self._openapi is None:
            from gatewise.proxy.openapi import openapi_document

            served = [n for n in self.listed if n in self.served]
            modes = ("chat", "embedding", "fim", "moderation", "classification", "ocr",
                     "audio_transcription")
            by_mode = {mode: [n for n in served if (self.mode_of(n) == mode if mode ==
                                                    "embedding" else self.serves(n, mode))]
                       for mode in modes}
            self._openapi = orjson.dumps(openapi_document(
                by_mode, secured=self.master_key is not None))
        return self._openapi

    def mode_of(self, name: str) -> str:
        """``chat``, ``embedding``, ``moderation``...: the mode of the deployments (for a
        wildcard's name, of the model) behind ``name`` (``chat`` when nothing says)."""
        if name in self.wildcards:
            return self.wildcards[name].info.mode
        return self._group(name)[0].mode

    def _group(self, name: str) -> list[Deployment]:
        return self.by_name[self.aliases[name]["model"] if name in self.aliases else name]

    def serves(self, name: str, mode: str) -> bool:
        """Whether ``name`` serves calls of ``mode`` (when nothing is known of it, yes)."""
        modes = self.modes.get(name)
        return modes is None or mode in modes

    def priced_as(self, name: str) -> ModelInfo | None:
        """The catalogue record a call for ``name`` served by a wildcard deployment is
        priced by: the model called (the deployment's own model is a pattern)."""
        wild = self.wildcards.get(name)
        return None if wild is None else wild.info

    def _model_card(self, name: str) -> dict[str, Any]:
        # "mode": what the model is (null when neither catalogue nor config says).
        mode = self.mode_of(name) if self.modes[name] is not None else None
        return {"id": name, "object": "model", "created": self.created, "owned_by": "gatewise",
                "mode": mode}

    def _make_client(self) -> AsyncClient:
        from gatewise._async_client import AsyncClient

        # The router passes each deployment's options and its own timeout on every call,
        # and makes every retry decision itself (the SDK's retries are off per call).  Each
        # call's own key and header values are kept out of its errors; so is the master key.
        master = self.config.master_key
        return AsyncClient(drop_params=self.config.drop_params, catalogue=self.catalogue,
                           redact=[master.reveal()] if master is not None else (),
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
        entries = divided([d.router_entry() for d in self.deployments if d.problem is None],
                          self.share)  # each worker its share, without Redis
        try:
            # A request may lower its retries and timeouts, never raise what the config allows.
            return Router(entries, model_group_alias=aliases, client=self.client,
                          cap_call_options=True, store=self.live, clock=self.clock,
                          **settings)
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.telemetry is not None:
            await self.telemetry.aclose()
        await self.sinks.aclose()
        if self._router is not None:
            await self._router.aclose()
        await self.client.aclose()
        if self.db is not None:
            await self.db.close()
        if self.shared is not None:
            await self.shared.aclose()

    def check_served(self, name: Any, mode: str | None = None) -> None:
        """Raise the error to answer with when the proxy cannot route ``name``, or (for a
        ``mode``: the kind of call the route makes, None for any) when ``name`` does not
        serve that kind of call: a 400 naming the model's mode and the route that fits."""
        if type(name) is not str or name not in self.served:
            raise self._no_route(name)
        if mode is not None:
            modes = self.modes[name]
            if modes is not None and mode not in modes:
                raise mode_mismatch(name, self.mode_of(name), modes, mode)

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
