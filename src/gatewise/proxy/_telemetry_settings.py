"""The observability settings, in LiteLLM's places::

    litellm_settings:
      callbacks: ["prometheus", "otel"]        # /metrics; OpenTelemetry traces
      json_logs: true                          # one JSON line per request on stdout
      require_auth_for_metrics_endpoint: true  # /metrics only with the master key
    callback_settings:
      otel:
        message_logging: true                  # prompts and completions in spans (off)
    general_settings:
      metrics_port: 9090                       # /metrics on a port of its own

``success_callback`` and ``failure_callback`` (LiteLLM's older lists) count as
``callbacks``: gatewise's sinks see every request, answered or failed.  A name close to
one gatewise implements is taken for a typo (an error); another integration LiteLLM has
(langfuse, datadog...) is a warning; a callback whose package is missing is an error.

OpenTelemetry's exporter is configured by the standard ``OTEL_*`` variables, read here,
when the config is loaded (``TelemetrySettings.otel_environ``, what the exporter is made
from), and by LiteLLM's names for three of them, where the standard one is unset:

=================  =====================================  ==============================
LiteLLM            standard (wins when both are set)      note
=================  =====================================  ==============================
``OTEL_ENDPOINT``  ``OTEL_EXPORTER_OTLP_ENDPOINT``        LiteLLM's is the traces URL:
                                                          ``/v1/traces`` is added unless
                                                          it ends so (``/v1``: ``/traces``)
``OTEL_HEADERS``   ``OTEL_EXPORTER_OTLP_HEADERS``         ``k=v,k2=v2``
``OTEL_EXPORTER``  ``OTEL_EXPORTER_OTLP_PROTOCOL``        the exporter
=================  =====================================  ==============================

gatewise exports over OTLP/HTTP with protobuf only: a protocol or exporter other than
:data:`EXPORTERS` (``grpc``, ``otlp_grpc``, ``http/json``, ``console``...) is refused at
start, naming the variable and the values accepted, rather than sending nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatewise.proxy._readers import Reader, did_you_mean
from gatewise.telemetry.otel.endpoint import traces_url

__all__ = ["EXPORTERS", "SETTINGS_KEYS", "TelemetrySettings", "telemetry_settings"]

CALLBACKS = ("prometheus", "otel")
_LISTS = ("callbacks", "success_callback", "failure_callback")
SETTINGS_KEYS = frozenset({*_LISTS, "json_logs", "require_auth_for_metrics_endpoint",
                           "turn_off_message_logging"})
"""The keys of ``litellm_settings`` read here."""
_PACKAGES = {"prometheus": ("prometheus_client", "gatewise[proxy]"),
             "otel": ("opentelemetry.sdk", "gatewise[otel]")}
EXPORTERS = ("http/protobuf", "otlp_http")
"""The OTLP protocols (and LiteLLM's exporter names) gatewise's exporter speaks."""
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL",
              "OTEL_EXPORTER")
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_HEADERS = ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    prometheus: bool = False
    otel: bool = False
    json_logs: bool = False
    require_auth_for_metrics: bool = False
    message_logging: bool = False
    """Prompts and completions on spans (``callback_settings.otel.message_logging``)."""
    otel_environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The ``OTEL_*`` variables the exporter is made from, LiteLLM's names turned into
    the standard ones (read at config load; ``repr=False``: headers may hold a token)."""

    @property
    def any(self) -> bool:
        return self.prometheus or self.otel or self.json_logs


def telemetry_settings(r: Reader, name: str, section: Mapping[str, Any], top: Mapping[str, Any]
                       ) -> TelemetrySettings:
    """Read the keys of ``section`` (``litellm_settings`` or ``settings``, already resolved)
    and ``top``'s ``callback_settings``."""
    wanted: set[str] = set()
    for key in _LISTS:
        if key in section:
            wanted |= _callbacks(r, section[key], f"{name}.{key}")
    json_logs = bool(r.boolean(section["json_logs"], f"{name}.json_logs")
                     if "json_logs" in section else False)
    auth = bool(r.boolean(section["require_auth_for_metrics_endpoint"],
                          f"{name}.require_auth_for_metrics_endpoint")
                if "require_auth_for_metrics_endpoint" in section else False)
    off = bool(r.boolean(section["turn_off_message_logging"],
                         f"{name}.turn_off_message_logging")
               if "turn_off_message_logging" in section else False)
    logging = _message_logging(r, top.get("callback_settings"))
    for callback in sorted(wanted):
        module, extra = _PACKAGES[callback]
        if importlib.util.find_spec(module.partition(".")[0]) is None or (
                importlib.util.find_spec(module) is None):
            r.error(f"{name}.callbacks", f"{callback!r} needs the {module} package: "
                                         f"pip install '{extra}'")
    environ = _otel_environ(r) if "otel" in wanted else {}
    return TelemetrySettings(prometheus="prometheus" in wanted, otel="otel" in wanted,
                             json_logs=json_logs, require_auth_for_metrics=auth,
                             message_logging=logging and not off, otel_environ=environ)


def _callbacks(r: Reader, value: Any, path: str) -> set[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.error(path, 'must be a list of names, e.g. ["prometheus", "otel"]')
        return set()
    out: set[str] = set()
    for item in value:
        callback = item.strip().lower()
        if callback in ("opentelemetry", "open_telemetry"):
            callback = "otel"
        if callback in CALLBACKS:
            out.add(callback)
            continue
        close = did_you_mean(callback, CALLBACKS)
        if close is not None:
            r.error(path, f"unknown callback {item!r} (did you mean {close!r}?)")
        else:
            r.warn(path, f"{item!r}: gatewise does not implement this callback, ignored "
                         f"(it has {', '.join(CALLBACKS)}; SDK users can add their own: "
                         "gatewise.callbacks)")
    return out


def _message_logging(r: Reader, value: Any) -> bool:
    if value is None:
        return False
    section = r.mapping(r.resolve(value, "callback_settings"), "callback_settings") or {}
    for key in section:
        if key != "otel":
            r.warn(f"callback_settings.{key}", "settings of a callback gatewise does not "
                                               "implement: ignored")
    otel = r.mapping(section.get("otel") or {}, "callback_settings.otel") or {}
    r.unknown_keys(otel, ("message_logging",), "callback_settings.otel")
    if "message_logging" not in otel:
        return False
    return bool(r.boolean(otel["message_logging"], "callback_settings.otel.message_logging"))


def _otel_environ(r: Reader) -> dict[str, str]:
    """The ``OTEL_*`` variables set, with LiteLLM's ``OTEL_ENDPOINT`` / ``OTEL_HEADERS``
    as the standard ones where those are unset; the protocol checked."""
    env = {name: value.strip() for name, value in r.environ.items()
           if name.startswith("OTEL_") and value.strip()}
    endpoint = env.pop("OTEL_ENDPOINT", None)
    if endpoint and not any(name in env for name in _ENDPOINTS):
        env[_ENDPOINTS[0]] = traces_url(endpoint)
    headers = env.pop("OTEL_HEADERS", None)
    if headers and not any(name in env for name in _HEADERS):
        env[_HEADERS[1]] = headers
    chosen = next((name for name in _PROTOCOLS if name in env), None)
    if chosen is not None and env[chosen].lower() not in EXPORTERS:
        r.error(f"{chosen} (environment)",
                f"{env[chosen]!r} is not supported: gatewise exports traces over OTLP/HTTP "
                f"with protobuf only; accepted values: {', '.join(EXPORTERS)} (or leave "
                f"{chosen} unset)")
    env.pop("OTEL_EXPORTER", None)
    return env
