"""The observability settings in LiteLLM's places: callbacks, json_logs, the metrics
endpoint's auth and port, message logging; typos are errors, other integrations warnings."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise.proxy.config import ConfigError, ProxyConfig, parse_config

ENTRY = {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                       "api_key": "k"}}


def parsed(environ: dict[str, str] | None = None, **sections: Any) -> ProxyConfig:
    return parse_config({"model_list": [ENTRY], **sections}, "c.yaml", environ=environ or {})


def problems(**sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parsed(**sections)
    return raised.value.problems


def test_nothing_is_on_by_default() -> None:
    telemetry = parsed().telemetry
    assert not telemetry.any and not telemetry.message_logging
    assert parsed().metrics_port is None


def test_callbacks_and_settings() -> None:
    config = parsed(
        litellm_settings={"callbacks": ["prometheus"], "success_callback": ["otel"],
                          "json_logs": True, "require_auth_for_metrics_endpoint": True},
        callback_settings={"otel": {"message_logging": True}},
        general_settings={"metrics_port": 9464})
    telemetry = config.telemetry
    assert telemetry.prometheus and telemetry.otel and telemetry.json_logs
    assert telemetry.require_auth_for_metrics and telemetry.message_logging
    assert config.metrics_port == 9464 and config.warnings == ()
    assert parsed(settings={"callbacks": "opentelemetry"}).telemetry.otel
    off = parsed(litellm_settings={"callbacks": ["otel"], "turn_off_message_logging": True},
                 callback_settings={"otel": {"message_logging": True}})
    assert not off.telemetry.message_logging


def test_typos_are_errors_other_integrations_warnings() -> None:
    [typo] = problems(litellm_settings={"callbacks": ["promethus"]})
    assert "did you mean 'prometheus'" in typo
    config = parsed(litellm_settings={"callbacks": ["langfuse", "prometheus"]},
                    callback_settings={"langfuse": {"x": 1}})
    assert config.telemetry.prometheus
    assert any("'langfuse': gatewise does not implement this callback" in w
               for w in config.warnings)
    assert any("callback_settings.langfuse" in w for w in config.warnings)
    [shape] = problems(litellm_settings={"callbacks": {"prometheus": True}})
    assert "must be a list of names" in shape
    [flag] = problems(callback_settings={"otel": {"message_logging": "yes please"}})
    assert "callback_settings.otel.message_logging" in flag


def test_metrics_port() -> None:
    config = parsed(general_settings={"metrics_port": 9464})
    assert any("no metrics to serve" in w for w in config.warnings)
    [bad] = problems(litellm_settings={"callbacks": ["prometheus"]},
                     general_settings={"metrics_port": 70000})
    assert "general_settings.metrics_port" in bad


def test_only_otlp_over_http_protobuf() -> None:
    with pytest.raises(ConfigError) as raised:
        parsed({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
               litellm_settings={"callbacks": ["otel"]})
    assert "http/protobuf" in raised.value.problems[0]
    assert parsed({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
                  litellm_settings={"callbacks": ["otel"]}).telemetry.otel
    # Without the otel callback the variable is none of the proxy's business.
    assert not parsed({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).telemetry.otel


OTEL = {"litellm_settings": {"callbacks": ["otel"]}}


def otel_environ(environ: dict[str, str]) -> dict[str, str]:
    return dict(parsed(environ, **OTEL).telemetry.otel_environ)


def test_litellms_otel_variables() -> None:
    """``OTEL_ENDPOINT`` / ``OTEL_HEADERS`` / ``OTEL_EXPORTER``, LiteLLM's names, are read
    as the standard ones (the endpoint as LiteLLM takes it: the traces URL)."""
    from gatewise.telemetry.otel.export import ExportSettings

    env = otel_environ({"OTEL_EXPORTER": "otlp_http", "OTEL_ENDPOINT": "https://c.example",
                        "OTEL_HEADERS": "Authorization=Bearer%20sk-otel,x-team=a",
                        "OTEL_SERVICE_NAME": "gw", "PATH": "/bin"})
    settings = ExportSettings.from_env(env)
    assert settings.url == "https://c.example/v1/traces"
    assert settings.headers == {"Authorization": "Bearer sk-otel", "x-team": "a"}
    assert env["OTEL_SERVICE_NAME"] == "gw" and "PATH" not in env
    for given, url in [("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
                       ("http://c:4318/v1/", "http://c:4318/v1/traces"),
                       ("http://c:4318/v1/logs", "http://c:4318/v1/traces"),
                       ("http://c:4318/custom", "http://c:4318/custom/v1/traces")]:
        assert ExportSettings.from_env(otel_environ({"OTEL_ENDPOINT": given})).url == url
    assert "sk-otel" not in repr(parsed({"OTEL_HEADERS": "a=sk-otel"}, **OTEL))


def test_the_standard_otel_variables_win() -> None:
    from gatewise.telemetry.otel.export import ExportSettings

    env = otel_environ({"OTEL_ENDPOINT": "http://litellm:1", "OTEL_HEADERS": "a=litellm",
                        "OTEL_EXPORTER": "grpc",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://standard:2",
                        "OTEL_EXPORTER_OTLP_HEADERS": "a=standard",
                        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    settings = ExportSettings.from_env(env)
    assert settings.url == "http://standard:2/v1/traces"
    assert settings.headers == {"a": "standard"}
    assert ExportSettings.from_env(otel_environ({
        "OTEL_ENDPOINT": "http://litellm:1",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:3/x"})).url == "http://traces:3/x"


@pytest.mark.parametrize(("variable", "value"), [
    ("OTEL_EXPORTER", "grpc"), ("OTEL_EXPORTER", "otlp_grpc"), ("OTEL_EXPORTER", "console"),
    ("OTEL_EXPORTER", "http/json"), ("OTEL_EXPORTER", "in_memory"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")])
def test_an_exporter_gatewise_lacks_is_refused_at_start(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parsed({variable: value}, **OTEL)
    [problem] = raised.value.problems
    assert variable in problem and repr(value) in problem
    assert "http/protobuf, otlp_http" in problem


@pytest.mark.parametrize("value", ["otlp_http", "http/protobuf", "HTTP/PROTOBUF"])
def test_the_exporters_gatewise_has(value: str) -> None:
    assert parsed({"OTEL_EXPORTER": value}, **OTEL).telemetry.otel
    assert parsed({"OTEL_EXPORTER_OTLP_PROTOCOL": value}, **OTEL).telemetry.otel
