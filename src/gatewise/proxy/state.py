"""``AppState``: what the proxy's handlers share, built once per app.

The deployments and the precomputed ``/models`` answers are made when the app is created
(so a bad config fails before the server binds); the ``AsyncClient`` -- one aiohttp pool per
app -- is made in the ASGI lifespan, inside the event loop that will use it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from gatewise import __version__
from gatewise.catalogue import Catalogue, default_catalogue
from gatewise.proxy.config import ProxyConfig
from gatewise.proxy.deployments import Deployment, build_deployments
from gatewise.proxy.errors import ProxyError, bad_request

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient

_MAX_ECHO = 100  # characters of a client's model name quoted back in an error


class AppState:
    def __init__(self, config: ProxyConfig, catalogue: Catalogue | None = None) -> None:
        self.config = config
        self.version = __version__
        self.catalogue = catalogue or default_catalogue()
        self.deployments = build_deployments(config, self.catalogue)
        self.by_name: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            self.by_name.setdefault(deployment.model_name, []).append(deployment)
        # Until the router lands, the first entry that can serve answers for its name.
        self.serving = {name: next((d for d in group if d.problem is None), group[0])
                        for name, group in self.by_name.items()}
        self.names = ", ".join(self.by_name)
        self.master_key = config.master_key
        self.max_body = config.max_request_body_bytes
        self.created = int(time.time())
        self.models_body = orjson.dumps(
            {"object": "list", "data": [self._model_card(n) for n in self.by_name]})
        self.model_bodies = {n: orjson.dumps(self._model_card(n)) for n in self.by_name}
        self._client: AsyncClient | None = None

    def _model_card(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "gatewise"}

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            from gatewise._async_client import AsyncClient  # aiohttp: only where it is used

            config = self.config
            self._client = AsyncClient(
                timeout=config.request_timeout,
                num_retries=2 if config.num_retries is None else config.num_retries,
                drop_params=config.drop_params, catalogue=self.catalogue)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def deployment_for(self, name: Any) -> Deployment:
        """The deployment serving ``name``, or the error to answer with."""
        deployment = self.serving.get(name) if isinstance(name, str) else None
        if deployment is None:
            if name is None:
                raise bad_request(f"you must provide a model parameter: one of {self.names}",
                                  param="model")
            if not isinstance(name, str):
                raise bad_request(f"`model` must be a string: one of {self.names}",
                                  param="model")
            shown = name if len(name) <= _MAX_ECHO else name[:_MAX_ECHO] + "…"
            raise ProxyError(404, f"The model `{shown}` does not exist on this proxy. "
                                  f"Available models: {self.names}",
                             param="model", code="model_not_found")
        if deployment.missing_env:
            raise deployment.unavailable()
        return deployment

    def missing_env(self) -> dict[str, list[Deployment]]:
        """Each unset variable -> the deployments it disables."""
        missing: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            for name in deployment.missing_env:
                missing.setdefault(name, []).append(deployment)
        return missing
