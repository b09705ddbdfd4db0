"""The proxy's config: YAML -> validated plain dataclasses.

Every problem names the file, the YAML path and what is wrong, and all of them are reported
at once (``ConfigError``).  An unknown key close to one gatewise knows there is a typo: an
error with a suggestion (in a deployment's params, close to a call option or to a parameter
the provider takes); keys LiteLLM documents that gatewise does not implement, and other
unknown keys, are warnings (``_readers``), never silently half-applied.
``os.environ/NAME`` may stand for any value; a variable missing from a ``model_list`` entry
only disables that entry (it answers "NAME is not set" while the others serve), a missing
variable anywhere else is an error.  A ``.env`` in the working directory is loaded first,
then ``environment_variables:`` is applied.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewise.catalogue.modes import MODES
from gatewise.db.ledger_settings import LEDGER_KEYS, LedgerSettings, ledger_settings
from gatewise.db.url import DatabaseURL, parse_database_url
from gatewise.proxy._env import env_name, load_dotenv_file
from gatewise.proxy._param_typos import param_typos
from gatewise.proxy._passthrough_settings import PassThroughConfig, pass_through_endpoints
from gatewise.proxy._readers import Reader, found
from gatewise.proxy._redis_settings import redis_settings, split_redis
from gatewise.proxy._router_settings import router_settings
from gatewise.proxy._secret import Secret
from gatewise.proxy._telemetry_settings import (
    SETTINGS_KEYS as TELEMETRY_KEYS,
)
from gatewise.proxy._telemetry_settings import (
    TelemetrySettings,
    telemetry_settings,
)
from gatewise.state.redis.settings import RedisSettings

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ConfigError",
    "DeploymentConfig",
    "ProxyConfig",
    "config_for_models",
    "load_config",
    "parse_config",
]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_AUDIO_UPLOAD_BYTES = 25 * 1024 * 1024
"""The largest audio file a transcription request may carry (OpenAI's limit)."""
DEFAULT_REQUEST_TIMEOUT = 600.0
"""Seconds a call may take on one deployment when nothing else is configured (a stream: the
longest silence, before its first chunk and between two chunks)."""
DEFAULT_CLIENT_TIMEOUT = 30.0
"""Seconds a client may take to send its request's head, and each piece of its body."""
DEFAULT_REQUEST_BODY_TIMEOUT = 60.0
"""Seconds a client may take to send a whole request body, however it paces the pieces."""
DEFAULT_GRACEFUL_SHUTDOWN = 10.0
MASTER_KEY_ENV = "GATEWISE_MASTER_KEY"
DATABASE_URL_ENV = "DATABASE_URL"
UPSTREAM_TRANSPORTS = ("lean", "aiohttp")
"""``general_settings.upstream_transport``: how the proxy talks to upstreams (the first is
the default; see ``gatewise._http._h1``)."""

_TOP_KEYS = frozenset({"model_list", "environment_variables", "settings", "litellm_settings",
                       "general_settings", "router_settings", "callback_settings"})
_ENTRY_KEYS = frozenset({"model_name", "params", "litellm_params", "model_info"})
_ROUTER_PARAMS = ("rpm", "tpm", "weight", "order")
_UNSUPPORTED_PARAMS = ("max_parallel_requests",)
_COST_PARAMS = ("input_cost_per_token", "output_cost_per_token")
# Every key a deployment's params may hold besides the provider's parameters.
_PARAM_KEYS = frozenset({
    "model", "custom_llm_provider", "api_key", "api_base", "base_url", "timeout",
    "request_timeout", "stream_timeout", "max_retries", "num_retries", "drop_params",
    "extra_headers", "mock_response", "ssl_verify", *_ROUTER_PARAMS, *_UNSUPPORTED_PARAMS,
    *_COST_PARAMS})
_SETTINGS_KEYS = frozenset({"drop_params", "num_retries", "request_timeout", "ssl_verify",
                            *TELEMETRY_KEYS})
_GENERAL_KEYS = frozenset({"master_key", "max_request_body_bytes", "max_request_size_mb",
                           "max_request_header_bytes", "client_timeout",
                           "request_body_timeout", "graceful_shutdown_timeout",
                           "database_url", "allow_requests_on_db_unavailable",
                           "disable_spend_logs", "max_audio_upload_bytes",
                           "pass_through_endpoints", "upstream_transport", "metrics_port",
                           *LEDGER_KEYS})
_MODEL_EXAMPLE = '(e.g. "mistral/mistral-small-latest")'


class ConfigError(Exception):
    """The config cannot be used; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """One ``model_list`` entry.  ``params`` are the provider parameters sent with every
    call (a request's own fields win); the call options sit in their own fields."""

    path: str
    model_name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    api_key: Secret | None = None
    api_key_env: str | None = None  # NAME when api_key is os.environ/NAME
    api_base: str | None = None
    timeout: float | None = None
    stream_timeout: float | None = None
    num_retries: int | None = None
    drop_params: bool | None = None
    extra_headers: dict[str, str] | None = field(default=None, repr=False)
    ssl_verify: bool | str | None = None
    mock_response: Any = None
    router: dict[str, Any] = field(default_factory=dict)
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    model_info: dict[str, Any] = field(default_factory=dict)
    missing_env: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.path} ({self.model_name})"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    source: str
    deployments: tuple[DeploymentConfig, ...]
    master_key: Secret | None = None
    max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_request_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    client_timeout: float = DEFAULT_CLIENT_TIMEOUT
    request_body_timeout: float = DEFAULT_REQUEST_BODY_TIMEOUT
    graceful_shutdown_timeout: float = DEFAULT_GRACEFUL_SHUTDOWN
    drop_params: bool = False
    num_retries: int | None = None
    request_timeout: float | None = None
    ssl_verify: bool | str = True
    upstream_transport: str = UPSTREAM_TRANSPORTS[0]
    router_settings: dict[str, Any] = field(default_factory=dict)
    """Checked ``router_settings``, as ``Router`` keyword arguments; ``model_group_alias``
    is ``{alias: {"model": model_name, "hidden": bool}}``."""
    warnings: tuple[str, ...] = ()
    database_url: DatabaseURL | None = None
    """``general_settings.database_url`` or ``DATABASE_URL``; None: the embedded SQLite
    default when there is a master key (see ``database()``), else no database."""
    allow_requests_on_db_unavailable: bool = False
    disable_spend_logs: bool = False
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    """How the spend ledger batches (``general_settings.proxy_batch_write_at``,
    ``ledger_batch_size``...: ``gatewise.db.ledger_settings``)."""
    base_dir: Path | None = None
    """The config file's folder (relative SQLite paths and the embedded default live
    there); None: the working directory."""

    def database(self) -> DatabaseURL | None:
        """The database the proxy uses: the configured one; else, with a master key, the
        embedded SQLite file next to the config (key management works out of the box)."""
        if self.database_url is not None:
            return self.database_url
        if self.master_key is None:
            return None
        from gatewise.db.url import default_sqlite_url

        return default_sqlite_url(self.base_dir / "config.yaml" if self.base_dir else None)
    max_audio_upload_bytes: int = DEFAULT_MAX_AUDIO_UPLOAD_BYTES
    pass_through: tuple[PassThroughConfig, ...] = ()
    """``general_settings.pass_through_endpoints`` (see ``_passthrough_settings``)."""
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    """Metrics, traces, the request log (see ``_telemetry_settings``)."""
    metrics_port: int | None = None
    """``general_settings.metrics_port``: ``/metrics`` there, and only there."""
    redis: RedisSettings | None = None
    """``router_settings.redis_*`` (or ``REDIS_URL`` / ``REDIS_HOST``...): the shared state
    of every worker and instance; None: each process keeps its own."""


def load_config(path: str | Path, environ: MutableMapping[str, str] = os.environ) -> ProxyConfig:
    """Read ``path`` (after loading ``./.env``) and validate it."""
    import yaml

    load_dotenv_file(Path.cwd() / ".env", environ)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the config file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{source}: the config file is not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from None
    return parse_config(data, source, environ, base_dir=Path(path).resolve().parent)


def config_for_models(models: list[str], environ: MutableMapping[str, str] = os.environ
                      ) -> ProxyConfig:
    """The config of ``gatewise --model provider/id``: one entry per model, named as given."""
    load_dotenv_file(Path.cwd() / ".env", environ)
    entries = [{"model_name": m, "params": {"model": m}} for m in models]
    return parse_config({"model_list": entries}, "--model", environ)


def parse_config(data: Any, source: str, environ: MutableMapping[str, str] = os.environ,
                 *, base_dir: Path | None = None) -> ProxyConfig:
    """Validate already-parsed YAML; raises :class:`ConfigError` listing every problem.
    ``base_dir``: the config file's folder, for relative paths in it."""
    r = Reader(source, environ)
    if data is None:
        raise ConfigError([f"{source}: the config is empty; it needs at least a model_list"])
    top = r.mapping(data, "")
    if top is None:
        raise ConfigError(r.problems)
    typos = r.unknown_keys(top, _TOP_KEYS, "", missing={"model_list"} - top.keys())
    _apply_environment(r, top.get("environment_variables"), environ)
    settings = _settings(r, top)
    general = _general(r, top.get("general_settings"), environ, base_dir)
    deployments = _model_list(r, top.get("model_list"), found(typos, "model_list"))
    routing, shared = split_redis(top.get("router_settings"))
    router = router_settings(r, routing, {d.model_name for d in deployments})
    redis = redis_settings(r, shared, environ)
    if general.get("metrics_port") is not None and not settings["telemetry"].prometheus:
        r.warn("general_settings.metrics_port", 'no metrics to serve: add "prometheus" to '
                                                "litellm_settings.callbacks")
    if r.problems:
        raise ConfigError(r.problems)
    return ProxyConfig(
        source=source, deployments=tuple(deployments), router_settings=dict(router),
        warnings=tuple(r.warnings), base_dir=base_dir, redis=redis, **settings,
        **general,
    )


def _apply_environment(r: Reader, section: Any, environ: MutableMapping[str, str]) -> None:
    if section is None:
        return
    values = r.mapping(section, "environment_variables")
    for name, value in (values or {}).items():
        path = f"environment_variables.{name}"
        resolved = r.resolve(value, path)
        if resolved is None:
            continue
        if isinstance(resolved, dict | list):
            r.error(path, "must be a string, a number or a boolean")
        else:
            text = str(resolved)
            environ[str(name)] = text.lower() if isinstance(resolved, bool) else text


def _settings(r: Reader, top: dict[str, Any]) -> dict[str, Any]:
    if "settings" in top and "litellm_settings" in top:
        r.error("litellm_settings", "give either settings or litellm_settings, not both")
    name = "settings" if "settings" in top else "litellm_settings"
    section = r.mapping(r.resolve(top.get(name) or {}, name), name) or {}
    r.unknown_keys(section, _SETTINGS_KEYS, name)
    out: dict[str, Any] = {}
    if "drop_params" in section:
        out["drop_params"] = r.boolean(section["drop_params"], f"{name}.drop_params")
    if "num_retries" in section:
        out["num_retries"] = r.count(section["num_retries"], f"{name}.num_retries")
    if "request_timeout" in section:
        out["request_timeout"] = r.seconds(section["request_timeout"], f"{name}.request_timeout")
    if "ssl_verify" in section:
        out["ssl_verify"] = r.ssl_verify(section["ssl_verify"], f"{name}.ssl_verify")
    out["telemetry"] = telemetry_settings(r, name, section, top)
    return {k: v for k, v in out.items() if v is not None}


def _general(r: Reader, section: Any, environ: MutableMapping[str, str],
             base_dir: Path | None) -> dict[str, Any]:
    values = r.mapping(r.resolve(section or {}, "general_settings"), "general_settings") or {}
    r.unknown_keys(values, _GENERAL_KEYS, "general_settings")
    out: dict[str, Any] = {}
    key = values.get("master_key")
    if key is not None:
        text = r.string(key, "general_settings.master_key")
        out["master_key"] = Secret(text) if text else None
    elif environ.get(MASTER_KEY_ENV):
        out["master_key"] = Secret(environ[MASTER_KEY_ENV])
    if "max_request_body_bytes" in values:
        out["max_request_body_bytes"] = r.count(
            values["max_request_body_bytes"], "general_settings.max_request_body_bytes", low=1)
    elif "max_request_size_mb" in values:
        mb = r.number(values["max_request_size_mb"], "general_settings.max_request_size_mb")
        if mb is not None:
            out["max_request_body_bytes"] = max(1, int(mb * 1024 * 1024))
    if "max_request_header_bytes" in values:
        out["max_request_header_bytes"] = r.count(
            values["max_request_header_bytes"], "general_settings.max_request_header_bytes",
            low=1024)
    for name in ("client_timeout", "request_body_timeout", "graceful_shutdown_timeout"):
        if name in values:
            out[name] = r.seconds(values[name], f"general_settings.{name}")
    for name in ("allow_requests_on_db_unavailable", "disable_spend_logs"):
        if name in values:
            out[name] = r.boolean(values[name], f"general_settings.{name}")
    ledger = ledger_settings(r, values)
    if ledger is not None:
        out["ledger"] = ledger
    url = values.get("database_url") or environ.get(DATABASE_URL_ENV)
    if url is not None:
        where = ("general_settings.database_url" if values.get("database_url")
                 else DATABASE_URL_ENV)
        text = r.string(url, where)
        if text is not None:
            try:
                out["database_url"] = parse_database_url(text, base=base_dir)
            except ValueError as exc:
                r.error(where, str(exc))
    if "max_audio_upload_bytes" in values:
        out["max_audio_upload_bytes"] = r.count(
            values["max_audio_upload_bytes"], "general_settings.max_audio_upload_bytes", low=1)
    if values.get("pass_through_endpoints") is not None:
        out["pass_through"] = pass_through_endpoints(r, values["pass_through_endpoints"],
                                                     environ)
    if values.get("metrics_port") is not None:
        port = r.count(values["metrics_port"], "general_settings.metrics_port", low=1)
        if port is not None and port > 65535:
            r.error("general_settings.metrics_port", f"must be a port, 1-65535, got {port}")
        else:
            out["metrics_port"] = port
    transport = values.get("upstream_transport", UPSTREAM_TRANSPORTS[0])
    if transport not in UPSTREAM_TRANSPORTS:
        r.error("general_settings.upstream_transport",
                f"must be one of {', '.join(UPSTREAM_TRANSPORTS)}, got {transport!r}")
    out["upstream_transport"] = transport
    return {k: v for k, v in out.items() if v is not None}


def _model_list(r: Reader, value: Any, typo: str = "") -> list[DeploymentConfig]:
    if value is None:
        r.error("model_list", "required: a list of {model_name, params} entries" + typo)
        return []
    if not isinstance(value, list) or not value:
        r.error("model_list", "must be a non-empty list of {model_name, params} entries")
        return []
    deployments = [d for i, entry in enumerate(value)
                   if (d := _deployment(r, entry, f"model_list[{i}]")) is not None]
    ids = [str(d.model_info["id"]) for d in deployments if "id" in d.model_info]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        r.error("model_list", f"model_info.id {duplicate!r} is used by more than one entry")
    return deployments


def _deployment(r: Reader, value: Any, path: str) -> DeploymentConfig | None:
    entry = r.mapping(value, path)
    if entry is None:
        return None
    absent = {"model_name"} - entry.keys()
    if "params" not in entry and "litellm_params" not in entry:
        absent |= {"params", "litellm_params"}
    typos = r.unknown_keys(entry, _ENTRY_KEYS, path, missing=absent, foreign=())
    model_name = r.resolve(entry.get("model_name"), f"{path}.model_name")
    if not isinstance(model_name, str) or not model_name.strip():
        r.error(f"{path}.model_name",
                'required: the name clients send as "model"' + found(typos, "model_name"))
        model_name = None
    if "params" in entry and "litellm_params" in entry:
        r.error(path, "give either params or litellm_params, not both")
    key = "params" if "params" in entry else "litellm_params"
    raw = entry.get(key)
    if raw is None:
        r.error(f"{path}.params", f"required: a mapping with at least model {_MODEL_EXAMPLE}"
                                  + found(typos, "litellm_params", "params"))
        return None
    missing: list[str] = []
    params = r.mapping(r.resolve(raw, f"{path}.{key}", missing), f"{path}.{key}")
    info = r.mapping(r.resolve(entry.get("model_info") or {}, f"{path}.model_info"),
                     f"{path}.model_info") or {}
    if params is None or model_name is None:
        return None
    fields = _deployment_fields(r, dict(params), f"{path}.{key}")
    if fields is None:
        return None
    for cost in _COST_PARAMS:
        if fields.get(cost) is None and cost in info:
            fields[cost] = r.number(info[cost], f"{path}.model_info.{cost}")
    if "id" in info and (not isinstance(info["id"], str | int) or not str(info["id"]).strip()):
        r.error(f"{path}.model_info.id", "must be a non-empty string")
    _check_mode_facts(r, info, f"{path}.model_info")
    key_env = env_name(raw.get("api_key")) if isinstance(raw, dict) else None
    return DeploymentConfig(path=path, model_name=model_name.strip(), model_info=dict(info),
                            api_key_env=key_env or None,
                            missing_env=tuple(dict.fromkeys(missing)), **fields)


def _check_mode_facts(r: Reader, info: dict[str, Any], path: str) -> None:
    """``mode`` and ``supports_fim`` decide which routes an entry serves: a typo there would
    turn every request away, so it is refused here."""
    mode = info.get("mode")
    if mode is not None and mode not in MODES:
        r.error(f"{path}.mode", f"must be one of {', '.join(MODES)} (got {mode!r})")
    if info.get("supports_fim") is not None and not isinstance(info["supports_fim"], bool):
        r.error(f"{path}.supports_fim", "must be true or false")


def _deployment_fields(r: Reader, params: dict[str, Any], path: str) -> dict[str, Any] | None:
    typos = param_typos(r, params, path, _PARAM_KEYS)
    model = params.pop("model", None)
    provider = params.pop("custom_llm_provider", None)
    if isinstance(model, str) and isinstance(provider, str) and "/" not in model:
        model = f"{provider}/{model}"
    if model is None and typos:
        r.error(f"{path}.model", f"required {_MODEL_EXAMPLE}" + found(typos, "model"))
        return None
    model = r.model(model, f"{path}.model", _MODEL_EXAMPLE)
    out: dict[str, Any] = {"model": model}
    api_key = params.pop("api_key", None)
    if api_key is not None:
        text = r.string(api_key, f"{path}.api_key")
        out["api_key"] = Secret(text) if text else None
    base = params.pop("api_base", params.pop("base_url", None))
    if base is not None:
        out["api_base"] = r.url(base, f"{path}.api_base")
    timeout = params.pop("timeout", params.pop("request_timeout", None))
    if timeout is not None:
        out["timeout"] = r.seconds(timeout, f"{path}.timeout")
    if "stream_timeout" in params:
        out["stream_timeout"] = r.seconds(params.pop("stream_timeout"), f"{path}.stream_timeout")
    retries = params.pop("max_retries", params.pop("num_retries", None))
    if retries is not None:
        out["num_retries"] = r.count(retries, f"{path}.max_retries")
    if "drop_params" in params:
        out["drop_params"] = r.boolean(params.pop("drop_params"), f"{path}.drop_params")
    if "extra_headers" in params:
        out["extra_headers"] = r.headers(params.pop("extra_headers"), f"{path}.extra_headers")
    if "ssl_verify" in params:
        out["ssl_verify"] = r.ssl_verify(params.pop("ssl_verify"), f"{path}.ssl_verify")
    out["mock_response"] = params.pop("mock_response", None)
    out["router"] = {k: (r.positive(params.pop(k), f"{path}.{k}") if k == "weight"
                         else r.count(params.pop(k), f"{path}.{k}", low=1))
                     for k in _ROUTER_PARAMS if k in params}
    for name in _UNSUPPORTED_PARAMS:
        if name in params:
            params.pop(name)
            r.warn(f"{path}.{name}", "not supported, ignored: use rpm / tpm to limit a "
                                     "deployment")
    for cost in _COST_PARAMS:
        if cost in params:
            out[cost] = r.number(params.pop(cost), f"{path}.{cost}")
    out["params"] = params
    return None if model is None else out
