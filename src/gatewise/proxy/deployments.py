"""``Deployment``: one ``model_list`` entry as the proxy knows it, built once at startup.

The router serves the calls (:meth:`Deployment.router_entry` is what it is given, and the
only place the API key is unwrapped); the proxy keeps what it answers with: the id and its
header value, the catalogue record for the cost, the mode, and whether the entry can serve
at all (a missing environment variable disables only this entry).  The entry's parameters
are also checked by the provider's adapter at startup, so a typo is a config error naming
its path, not a 400 on every request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gatewise._exceptions import APIError
from gatewise._prepare import Settings, Targets, prepare_chat, prepare_embedding
from gatewise.catalogue import Catalogue, ModelInfo, cost_for_usage
from gatewise.catalogue.modes import served_modes
from gatewise.providers.base import PROVIDERS
from gatewise.proxy._secret import Secret
from gatewise.proxy.config import ConfigError, DeploymentConfig, ProxyConfig
from gatewise.proxy.errors import CONFIG_DROP_PARAMS, ProxyError, bad_request, proxy_wording
from gatewise.router.wildcards import is_pattern

# Fields a request may not set: they would let a client send the deployment's key elsewhere.
FORBIDDEN_FIELDS = frozenset({"api_key", "api_base", "base_url", "extra_headers",
                              "custom_llm_provider", "ssl_verify"})
_RESERVED = frozenset({"self", "admission"})
_CHECKED_FIELDS = FORBIDDEN_FIELDS | _RESERVED | {"mock_response"}
_PROBE_MESSAGES = [{"role": "user", "content": "ping"}]
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


@dataclass(slots=True, eq=False)
class Deployment:
    config: DeploymentConfig
    id: str
    info: ModelInfo
    mode: str
    missing_env: tuple[str, ...] = ()
    key_env: str | None = None  # where the key comes from, for error messages
    id_header: bytes = b""
    api_key: Secret | None = None  # the entry's, or the provider's variable read at startup
    modes: frozenset[str] | None = None  # the kinds of call it serves; None: not known
    wildcard: bool = False  # its model_name is a pattern ("*"): it serves many models

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

    def call_params(self) -> dict[str, Any]:
        """The SDK call's parameters: the entry's provider parameters and call options
        (with the API key revealed: build it only to hand it over)."""
        config = self.config
        params: dict[str, Any] = {"model": config.model, **config.params}
        if self.api_key is not None:
            params["api_key"] = self.api_key.reveal()
        for name in ("api_base", "drop_params", "extra_headers", "ssl_verify", "mock_response"):
            value = getattr(config, name)
            if value is not None:
                params[name] = value
        return params

    def router_entry(self) -> dict[str, Any]:
        """This deployment as a ``Router`` ``model_list`` entry, under the proxy's id."""
        params = self.call_params()
        for name in ("timeout", "stream_timeout", "num_retries"):
            value = getattr(self.config, name)
            if value is not None:
                params[name] = value
        params.update(self.config.router)
        return {"model_name": self.model_name, "params": params, "model_info": {"id": self.id}}

    def cost(self, usage: Any, info: ModelInfo | None = None) -> float | None:
        """What a call cost: by the entry's own prices, else by the catalogue's for
        ``info`` (the model a wildcard entry called), else for the entry's model."""
        if self.is_mock:
            return 0.0
        if type(usage) is not dict and not isinstance(usage, Mapping):
            return None
        config = self.config
        if config.input_cost_per_token is not None or config.output_cost_per_token is not None:
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            return ((prompt if isinstance(prompt, int) else 0)
                    * (config.input_cost_per_token or 0.0)
                    + (completion if isinstance(completion, int) else 0)
                    * (config.output_cost_per_token or 0.0))
        return cost_for_usage(self.info if info is None else info, usage)

    def unavailable(self, name: str | None = None) -> ProxyError:
        return ProxyError(
            503, f"model `{name or self.model_name}` cannot be served: {self.problem} in the "
                 "proxy's environment (set it, then restart the proxy)",
            type="api_error", code="deployment_not_configured",
            headers=[(b"x-should-retry", b"false")])


def check_fields(body: Mapping[str, Any], name: str, mock_only: Collection[str]) -> None:
    """Refuse the fields that would let a client send a deployment's key elsewhere, and a
    ``mock_response`` unless it is text (the SDK's other forms are for Python callers) and
    every deployment the call for ``name`` may reach is a mock entry itself (``mock_only``:
    a client must not skip an upstream the operator pays for, nor be billed for a canned
    answer)."""
    if _CHECKED_FIELDS.isdisjoint(body):
        return
    if not FORBIDDEN_FIELDS.isdisjoint(body):
        field = sorted(FORBIDDEN_FIELDS.intersection(body))[0]
        raise bad_request(f"`{field}` cannot be set through the proxy: each model's "
                          "credentials and endpoint come from the proxy's config", param=field)
    mock = body.get("mock_response")
    if mock is not None:
        if not isinstance(mock, str):
            raise bad_request("`mock_response` must be a string", param="mock_response")
        if name not in mock_only or not _fallback_names(body, name) <= set(mock_only):
            raise bad_request(
                f"`mock_response` is only taken by a model whose deployments are all mock "
                f"entries (`mock_response` in the proxy's config); `{name}` calls an upstream",
                param="mock_response")
    for reserved in _RESERVED.intersection(body):  # keyword arguments of the client or
        # router themselves (the client, the proxy's admission ticket): never a client's
        raise bad_request(f"unknown parameter `{reserved}`", param=reserved)


def _fallback_names(body: Mapping[str, Any], name: str) -> set[str]:
    """The model names a request's own fallbacks name (the router refuses malformed ones)."""
    from gatewise.router.fallbacks import FallbackConfig

    try:
        chains = FallbackConfig().with_overrides(
            name, fallbacks=body.get("fallbacks"),
            context_window=body.get("context_window_fallbacks"),
            content_policy=body.get("content_policy_fallbacks"))
    except ValueError:
        return set()
    return chains.groups()


def mock_only_names(groups: Mapping[str, list[Deployment]],
                    chains: Iterable[Mapping[str, list[str]]],
                    aliases: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The names (groups and aliases) whose calls can only reach mock entries: every
    deployment of the group, and of every group its configured fallbacks lead to, is one."""
    from gatewise.router.fallbacks import WILDCARD

    mocks = {name for name, group in groups.items() if all(d.is_mock for d in group)}

    def group_of(name: str) -> str:
        return str(aliases[name]["model"]) if name in aliases else name

    chains = [{key if key == WILDCARD else group_of(key): [group_of(t) for t in targets]
               for key, targets in chain.items()} for chain in chains]

    def reaches_only_mocks(start: str) -> bool:
        seen, queue = {start}, [start]
        while queue:
            group = queue.pop()
            if group not in mocks:
                return False
            for chain in chains:
                for target in chain.get(group, chain.get(WILDCARD, ())):
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
        return True

    names = {name for name in mocks if reaches_only_mocks(name)}
    return frozenset(names | {alias for alias, target in aliases.items()
                              if target["model"] in names})


def _key_source(config: DeploymentConfig, environ: Mapping[str, str]
                ) -> tuple[str | None, tuple[str, ...], Secret | None]:
    """The variable the key comes from, the variables missing for this entry, and the key
    (the entry's own, else the provider's variable read now, once, as a secret)."""
    missing = config.missing_env
    # A key of its own (when it is an unset os.environ/NAME, NAME is missing already), or
    # a mock: the provider's default variable is not needed.
    if config.api_key is not None or config.api_key_env or config.mock_response is not None:
        return config.api_key_env, missing, config.api_key
    env = PROVIDERS[config.model.partition("/")[0]].api_key_env
    value = environ.get(env)
    if not value and env not in missing:
        missing = (*missing, env)
    return config.api_key_env or env, missing, Secret(value) if value else None


def _check_chat(settings: Settings, catalogue: Catalogue, model: str,
                params: dict[str, Any]) -> None:
    prepare_chat(settings, catalogue, model, _PROBE_MESSAGES, params, Targets())


def _check_embedding(settings: Settings, catalogue: Catalogue, model: str,
                     params: dict[str, Any]) -> None:
    prepare_embedding(settings, catalogue, model, "ping", params, Targets())


def _check_ocr(settings: Settings, catalogue: Catalogue, model: str,
               params: dict[str, Any]) -> None:
    from gatewise._ocr import prepare_ocr

    prepare_ocr(settings, catalogue, model, _PROBE_DOCUMENT, params, Targets())


def _check_transcription(settings: Settings, catalogue: Catalogue, model: str,
                         params: dict[str, Any]) -> None:
    from gatewise._transcription import prepare_transcription

    prepare_transcription(settings, catalogue, model, b"ping", params, Targets(),
                          blocking=True)


def _check_moderation(settings: Settings, catalogue: Catalogue, model: str,
                      params: dict[str, Any]) -> None:
    from gatewise._endpoints import prepare_moderation

    prepare_moderation(settings, catalogue, model, "ping", params, Targets())


def _check_fim(settings: Settings, catalogue: Catalogue, model: str,
               params: dict[str, Any]) -> None:
    from gatewise._endpoints import prepare_fim

    prepare_fim(settings, catalogue, model, "ping", params, Targets())


# How an entry's params are checked, by its mode: the adapter builds the request the
# entry's main route would (so an OCR entry's own options are an OCR request's).
_CHECKERS: dict[str, Callable[[Settings, Catalogue, str, dict[str, Any]], None]] = {
    "chat": _check_chat, "embedding": _check_embedding, "ocr": _check_ocr,
    "audio_transcription": _check_transcription, "moderation": _check_moderation,
    "completion": _check_fim,
}
_PROBE_DOCUMENT = {"type": "document_url", "document_url": "https://example.com/ping.pdf"}


def _check_params(config: DeploymentConfig, mode: str, catalogue: Catalogue,
                  proxy: ProxyConfig) -> str | None:
    """Let the adapter build a (mocked) request from the entry's params; its complaint, if
    any, is a config problem."""
    settings = Settings(drop_params=proxy.drop_params)
    params = {**config.params, "mock_response": "ping"}
    if config.drop_params is not None:
        params["drop_params"] = config.drop_params
    checker = _CHECKERS.get(mode)
    if checker is None:  # a mode no route serves with the entry's params (speech...)
        return None
    try:
        checker(settings, catalogue, config.model, params)
    except APIError as exc:
        return proxy_wording(exc.message, CONFIG_DROP_PARAMS)
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
        key_env, missing, key = _key_source(entry, environ)
        deployments.append(Deployment(
            config=entry, id=deployment_id, info=info, mode=mode, missing_env=missing,
            key_env=key_env, id_header=quote(deployment_id, safe=_HEADER_SAFE).encode("ascii"),
            api_key=key, modes=served_modes(info, entry.model_info),
            wildcard=is_pattern(entry.model_name),
        ))
    if problems:
        raise ConfigError(problems)
    return deployments
