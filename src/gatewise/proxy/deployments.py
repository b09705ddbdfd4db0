"""``Deployment``: one ``model_list`` entry made ready to call, built once at startup.

Everything a request needs that does not depend on the request is worked out here: the
call options passed to the SDK core (key, base URL, timeout, retries, mock), the provider
parameter defaults, the catalogue record for the cost, the header value naming it, and
whether it can serve at all (a missing environment variable disables only this entry).
The entry's parameters are also checked by the provider's adapter at startup, so a typo is
a config error naming its path, not a 400 on every request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from gatewise._exceptions import APIError
from gatewise._prepare import Settings, prepare_chat, prepare_embedding
from gatewise.catalogue import Catalogue, ModelInfo, cost_for_usage
from gatewise.providers.base import PROVIDERS
from gatewise.proxy.config import ConfigError, DeploymentConfig, ProxyConfig
from gatewise.proxy.errors import ProxyError, bad_request

# Fields a request may not set: they would let a client send the deployment's key elsewhere.
FORBIDDEN_FIELDS = frozenset({"api_key", "api_base", "base_url", "extra_headers",
                              "custom_llm_provider"})
_PROBE_MESSAGES = [{"role": "user", "content": "ping"}]
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


@dataclass(slots=True, eq=False)
class Deployment:
    config: DeploymentConfig
    id: str
    info: ModelInfo
    mode: str
    defaults: dict[str, Any]
    options: dict[str, Any] = field(repr=False)  # holds the revealed API key
    missing_env: tuple[str, ...] = ()
    key_env: str | None = None  # where the key comes from, for error messages
    id_header: bytes = b""

    @property
    def model_name(self) -> str:
        return self.config.model_name

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def is_mock(self) -> bool:
        return self.config.mock_response is not None

    @property
    def problem(self) -> str | None:
        """Why this deployment cannot serve, or None."""
        if not self.missing_env:
            return None
        names = self.missing_env
        verb = "is" if len(names) == 1 else "are"
        return f"{', '.join(names)} {verb} not set"

    def call_kwargs(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request's fields (minus model and messages/input) -> the SDK call's keyword
        arguments: the request's fields over the deployment's defaults, and the deployment's
        call options over both."""
        if not FORBIDDEN_FIELDS.isdisjoint(body):
            name = sorted(FORBIDDEN_FIELDS.intersection(body))[0]
            raise bad_request(f"`{name}` cannot be set through the proxy: each model's "
                              "credentials and endpoint come from the proxy's config", param=name)
        kwargs = {**self.defaults, **body} if self.defaults else body
        kwargs.update(self.options)
        return kwargs

    def cost(self, usage: Any) -> float | None:
        if self.is_mock:
            return 0.0
        if not isinstance(usage, Mapping):
            return None
        config = self.config
        if config.input_cost_per_token is not None or config.output_cost_per_token is not None:
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            return ((prompt if isinstance(prompt, int) else 0)
                    * (config.input_cost_per_token or 0.0)
                    + (completion if isinstance(completion, int) else 0)
                    * (config.output_cost_per_token or 0.0))
        return cost_for_usage(self.info, usage)

    def unavailable(self) -> ProxyError:
        return ProxyError(
            503, f"model `{self.model_name}` cannot be served: {self.problem} in the proxy's "
                 "environment (set it, then restart the proxy)",
            type="api_error", code="deployment_not_configured",
            headers=[(b"x-should-retry", b"false")])


def _options(config: DeploymentConfig) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if config.api_key is not None:
        options["api_key"] = config.api_key.reveal()
    for name in ("api_base", "timeout", "num_retries", "drop_params", "extra_headers",
                 "mock_response"):
        value = getattr(config, name)
        if value is not None:
            options[name] = value
    return options


def _key_source(config: DeploymentConfig, environ: Mapping[str, str]
                ) -> tuple[str | None, tuple[str, ...]]:
    """The variable the key comes from, and the variables missing for this entry."""
    missing = config.missing_env
    if config.api_key is not None or config.mock_response is not None:
        return config.api_key_env, missing
    env = PROVIDERS[config.model.partition("/")[0]].api_key_env
    if not environ.get(env) and env not in missing:
        missing = (*missing, env)
    return config.api_key_env or env, missing


def _check_params(config: DeploymentConfig, mode: str, catalogue: Catalogue,
                  proxy: ProxyConfig) -> str | None:
    """Let the adapter build a (mocked) request from the entry's params; its complaint, if
    any, is a config problem."""
    settings = Settings(drop_params=proxy.drop_params)
    params = {**config.params, "mock_response": "ping"}
    if config.drop_params is not None:
        params["drop_params"] = config.drop_params
    try:
        if mode == "embedding":
            prepare_embedding(settings, catalogue, config.model, "ping", params)
        else:
            prepare_chat(settings, catalogue, config.model, _PROBE_MESSAGES, params)
    except APIError as exc:
        return exc.message
    return None


def build_deployments(config: ProxyConfig, catalogue: Catalogue,
                      environ: Mapping[str, str] = os.environ) -> list[Deployment]:
    deployments: list[Deployment] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for entry in config.deployments:
        info = catalogue.get(entry.model)
        mode = str(entry.model_info.get("mode") or info.mode)
        problem = _check_params(entry, mode, catalogue, config)
        if problem:
            problems.append(f"{config.source}: {entry.path}.params: {problem}")
            continue
        number = seen[entry.model_name] = seen.get(entry.model_name, -1) + 1
        deployment_id = str(entry.model_info.get("id") or f"{entry.model_name}#{number}")
        key_env, missing = _key_source(entry, environ)
        deployments.append(Deployment(
            config=entry, id=deployment_id, info=info, mode=mode, defaults=dict(entry.params),
            options=_options(entry), missing_env=missing, key_env=key_env,
            id_header=quote(deployment_id, safe=_HEADER_SAFE).encode("ascii"),
        ))
    if problems:
        raise ConfigError(problems)
    return deployments
