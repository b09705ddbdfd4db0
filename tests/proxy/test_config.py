"""Config validation: every problem names the file, the YAML path and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatewise.catalogue import default_catalogue
from gatewise.proxy._readers import did_you_mean
from gatewise.proxy._secret import Secret
from gatewise.proxy.config import ConfigError, load_config, parse_config
from gatewise.proxy.deployments import build_deployments

ISSUE_CONFIG = """\
model_list:
  - model_name: mistral-small-latest
    litellm_params:
      model: mistral/mistral-small-latest
      api_key: "os.environ/MISTRAL_API_KEY"
"""


def entry(**params: Any) -> dict[str, Any]:
    return {"model_name": "m", "params": {"model": "mistral/mistral-small-latest", **params}}


def problems(data: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "config.yaml", environ={} if environ is None else environ)
    return info.value.problems


def test_the_issue_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(ISSUE_CONFIG)
    config = load_config(path, environ={"MISTRAL_API_KEY": "sk-123"})
    (deployment,) = config.deployments
    assert deployment.model_name == "mistral-small-latest"
    assert deployment.model == "mistral/mistral-small-latest"
    assert deployment.api_key == Secret("sk-123")
    assert deployment.api_key_env == "MISTRAL_API_KEY"
    assert deployment.missing_env == ()
    assert config.warnings == ()
    assert "sk-123" not in repr(config)


def test_the_example_config_loads_without_a_key() -> None:
    path = Path(__file__).parents[2] / "examples" / "config.yaml"
    config = load_config(path, environ={})
    names = [d.model_name for d in config.deployments]
    assert names == ["demo", "mistral-small-latest", "mistral-embed"]
    assert config.deployments[0].mock_response
    assert config.deployments[1].missing_env == ("MISTRAL_API_KEY",)
    assert config.warnings == ()


def test_required_fields_name_their_path() -> None:
    found = problems({"model_list": [
        {"model_name": "a", "litellm_params": {"api_key": "k"}},
        {"params": {"model": "mistral/x"}},
        {"model_name": "c"},
        "not a mapping",
    ]})
    assert found == [
        'config.yaml: model_list[0].litellm_params.model: required '
        '(e.g. "mistral/mistral-small-latest")',
        'config.yaml: model_list[1].model_name: required: the name clients send as "model"',
        'config.yaml: model_list[2].params: required: a mapping with at least model '
        '(e.g. "mistral/mistral-small-latest")',
        "config.yaml: model_list[3]: must be a mapping, got a string",
    ]


@pytest.mark.parametrize(("params", "expected"), [
    ({"model": "mistral-small"}, "model_list[0].params.model: 'mistral-small' has no provider "
                                 "prefix; write it as 'provider/model-id', e.g. "
                                 "'mistral/mistral-small'"),
    ({"model": "openai/gpt-4o"}, "model_list[0].params.model: unknown provider 'openai'"),
    ({"model": "mistral/x", "timeout": -1}, "model_list[0].params.timeout: must be >= 0"),
    ({"model": "mistral/x", "timeout": "soon"}, "model_list[0].params.timeout: must be a number"),
    ({"model": "mistral/x", "max_retries": 1.5},
     "model_list[0].params.max_retries: must be a whole number >= 0"),
    ({"model": "mistral/x", "api_base": "api.mistral.ai"},
     "model_list[0].params.api_base: must be an http(s) URL"),
    ({"model": "mistral/x", "drop_params": "yes"},
     "model_list[0].params.drop_params: must be true or false"),
    ({"model": "mistral/x", "rpm": "many"}, "model_list[0].params.rpm: must be a number"),
    ({"model": "mistral/x", "api_key": ""}, "model_list[0].params.api_key: must not be empty"),
])
def test_bad_values_name_their_path(params: dict[str, Any], expected: str) -> None:
    (found,) = problems({"model_list": [{"model_name": "m", "params": params}]})
    assert found.startswith(f"config.yaml: {expected}"), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"model_list": [entry(timeout=0), entry(api_base="ftp://x")],
                      "settings": {"num_retries": -1}})
    assert len(found) == 3


def test_model_list_is_required_and_non_empty() -> None:
    assert problems({}) == ["config.yaml: model_list: required: a list of {model_name, params} "
                            "entries"]
    (empty,) = problems({"model_list": []})
    assert empty.startswith("config.yaml: model_list: must be a non-empty")
    assert problems(None) == ["config.yaml: the config is empty; it needs at least a model_list"]
    assert problems(["x"]) == ["config.yaml: must be a mapping, got a list"]


def test_unknown_keys_are_warnings_naming_their_path() -> None:
    """Keys LiteLLM documents that gatewise does not implement, and keys close to nothing
    gatewise knows: warnings (a LiteLLM config carries many), never applied."""
    config = parse_config({
        "model_list": [{**entry(), "extra_entry_key": {}}],
        "general_settings": {"alerting": ["slack"], "zzz": 1},
        "litellm_settings": {"drop_params": True, "service_callbacks": ["datadog"]},
        "router_settings": {"enable_pre_call_checks": True},
        "include": ["other.yaml"],
        "extra": 1,
    }, "config.yaml", environ={})
    assert config.warnings == (
        "config.yaml: include: a LiteLLM setting gatewise does not implement: ignored",
        "config.yaml: extra: unknown key, ignored",
        "config.yaml: litellm_settings.service_callbacks: a LiteLLM setting gatewise does not "
        "implement: ignored",
        "config.yaml: general_settings.alerting: a LiteLLM setting gatewise does not "
        "implement: ignored",
        "config.yaml: general_settings.zzz: unknown key, ignored",
        "config.yaml: model_list[0].extra_entry_key: unknown key, ignored",
        "config.yaml: router_settings.enable_pre_call_checks: a LiteLLM setting gatewise does "
        "not implement: ignored",
    )
    assert config.drop_params is True


def test_a_key_close_to_a_known_one_is_an_error_with_a_suggestion() -> None:
    """A typo is never silently ignored: each one, wherever it is, names its path and the
    key it is close to (case aside, an edit or two away)."""
    assert problems({
        "model_list": [{**entry(api_kye="sk-1", temprature=0.2, Max_Tokens=5),
                        "modle_info": {}}],
        "general_settings": {"master_kye": "x", "client_timout": 3},
        "litelm_settings": {"drop_params": True},
        "router_settings": {"num_retires": 2, "routing_stratgy": "simple-shuffle"},
    }) == [
        "config.yaml: litelm_settings: unknown key (did you mean 'litellm_settings'?)",
        "config.yaml: general_settings.master_kye: unknown key (did you mean 'master_key'?)",
        "config.yaml: general_settings.client_timout: unknown key (did you mean "
        "'client_timeout'?)",
        "config.yaml: model_list[0].modle_info: unknown key (did you mean 'model_info'?)",
        "config.yaml: model_list[0].params.api_kye: unknown key (did you mean 'api_key'?)",
        "config.yaml: model_list[0].params.temprature: unknown key (did you mean "
        "'temperature'?)",
        "config.yaml: model_list[0].params.Max_Tokens: unknown key (did you mean "
        "'max_tokens'?)",
        "config.yaml: router_settings.num_retires: unknown key (did you mean 'num_retries'?)",
        "config.yaml: router_settings.routing_stratgy: unknown key (did you mean "
        "'routing_strategy'?)",
    ]


@pytest.mark.parametrize(("data", "expected"), [
    ({"model_lst": [entry()]},
     "config.yaml: model_list: required: a list of {model_name, params} entries (found "
     "'model_lst': did you mean model_list?)"),
    ({"model_list": [{"model_name": "m", "litelm_params": {"model": "mistral/x"}}]},
     'config.yaml: model_list[0].params: required: a mapping with at least model (e.g. '
     '"mistral/mistral-small-latest") (found \'litelm_params\': did you mean litellm_params?)'),
    ({"model_list": [{"model_nam": "m", "params": {"model": "mistral/x"}}]},
     'config.yaml: model_list[0].model_name: required: the name clients send as "model" '
     "(found 'model_nam': did you mean model_name?)"),
    ({"model_list": [{"model_name": "m", "litellm_params": {"modle": "mistral/x"}}]},
     'config.yaml: model_list[0].litellm_params.model: required (e.g. '
     '"mistral/mistral-small-latest") (found \'modle\': did you mean model?)'),
], ids=["model_list", "litellm_params", "model_name", "model"])
def test_a_missing_key_names_the_typo_written_for_it(data: dict[str, Any], expected: str
                                                     ) -> None:
    assert problems(data) == [expected]


def test_a_typo_of_api_key_is_not_reported_as_a_missing_variable() -> None:
    """``api_kye: os.environ/MISTRAL_API_KEY`` with the variable unset: the typo is the
    problem, not the variable, nor a parameter Mistral does not support."""
    found = problems({"model_list": [entry(api_kye="os.environ/MISTRAL_API_KEY")]})
    assert found == [
        "config.yaml: model_list[0].params.api_kye: unknown key (did you mean 'api_key'?)"]


def test_keys_close_to_nothing_known_are_left_to_the_adapter() -> None:
    """``top_k`` (another provider's parameter, one edit from ``top_p``) and LiteLLM's
    options for other providers are not typos: the adapter judges them at startup."""
    config = parse_config({"model_list": [entry(top_k=5, api_version="2024", foo=1)]},
                          "config.yaml", environ={})
    assert config.deployments[0].params == {"top_k": 5, "api_version": "2024", "foo": 1}
    with pytest.raises(ConfigError) as info:
        build_deployments(config, default_catalogue(), environ={"MISTRAL_API_KEY": "k"})
    (problem,) = info.value.problems
    assert "Mistral does not support the parameter(s) top_k" in problem
    assert ", api_version, foo;" in problem
    # The remedy in the config's terms (the SDK would say drop_params=True).
    assert problem.endswith("set drop_params: true in this entry's params (or under "
                            "litellm_settings, for every entry) to drop them instead")


def test_the_suggestions() -> None:
    known = ["model_list", "master_key", "rpm", "tpm", "api_key", "api_base", "top_p"]
    assert did_you_mean("MODEL_LIST", known) == "model_list"
    assert did_you_mean("api_kye", known) == "api_key"
    assert did_you_mean("rpn", known) == "rpm"
    assert did_you_mean("xyz", known) is None
    assert did_you_mean("api_version", known) is None
    assert did_you_mean("masterkey", known) == "master_key"


def test_params_and_litellm_params_are_the_same_thing() -> None:
    a = parse_config({"model_list": [entry(temperature=0.2)]}, "c", environ={})
    b = parse_config({"model_list": [{"model_name": "m", "litellm_params": {
        "model": "mistral/mistral-small-latest", "temperature": 0.2}}]}, "c", environ={})
    assert a.deployments[0].params == b.deployments[0].params == {"temperature": 0.2}
    both = {"model_name": "m", "params": {"model": "mistral/x"},
            "litellm_params": {"model": "mistral/x"}}
    assert problems({"model_list": [both]}) == [
        "config.yaml: model_list[0]: give either params or litellm_params, not both"]


def test_call_options_router_params_and_provider_params_are_split() -> None:
    config = parse_config({"model_list": [entry(
        api_key="k", api_base="http://x/v1/", timeout=30, max_retries=1, rpm=60, tpm=1000,
        weight=2, order=1, temperature=0.1, safe_prompt=True, mock_response="m")]},
        "c", environ={})
    (d,) = config.deployments
    assert (d.api_base, d.timeout, d.num_retries, d.mock_response) == ("http://x/v1", 30, 1, "m")
    assert d.router == {"order": 1, "rpm": 60, "tpm": 1000, "weight": 2}
    assert d.params == {"temperature": 0.1, "safe_prompt": True}


def test_environment_references() -> None:
    environ = {"KEY": "sk-1", "BASE": "http://fake/v1", "RETRIES": "3"}
    config = parse_config({"model_list": [entry(api_key="os.environ/KEY",
                                                api_base="os.environ/BASE",
                                                max_retries="os.environ/RETRIES")],
                           "general_settings": {"master_key": "os.environ/KEY"}},
                          "c", environ=environ)
    (d,) = config.deployments
    assert (d.api_key, d.api_base, d.num_retries) == (Secret("sk-1"), "http://fake/v1", 3)
    assert config.master_key == Secret("sk-1")


def test_a_missing_variable_disables_only_its_entries() -> None:
    config = parse_config({"model_list": [
        entry(api_key="os.environ/NOPE"),
        {"model_name": "ok", "params": {"model": "mistral/x", "api_key": "k"}},
        {"model_name": "b", "params": {"model": "mistral/x", "api_key": "os.environ/NOPE",
                                       "api_base": "os.environ/NOPE_BASE"}},
    ]}, "c", environ={})
    assert [d.missing_env for d in config.deployments] == [("NOPE",), (), ("NOPE", "NOPE_BASE")]


def test_a_missing_variable_outside_model_list_is_an_error() -> None:
    assert problems({"model_list": [entry()],
                     "general_settings": {"master_key": "os.environ/NOPE"}}) == [
        "config.yaml: general_settings.master_key: NOPE is not set (referenced as "
        "os.environ/NOPE)"]


def test_environment_variables_section_and_dotenv(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text('FROM_DOTENV="dotenv-key"\n# comment\nSET_TWICE=dotenv\n')
    (tmp_path / "c.yaml").write_text(
        "environment_variables:\n  FROM_SECTION: section-key\n  NUMBER: 3\n"
        "model_list:\n"
        "  - model_name: a\n    params: {model: mistral/x, api_key: os.environ/FROM_DOTENV}\n"
        "  - model_name: b\n    params: {model: mistral/x, api_key: os.environ/FROM_SECTION}\n"
        "  - model_name: c\n    params: {model: mistral/x, api_key: os.environ/SET_TWICE}\n")
    environ = {"SET_TWICE": "shell"}
    config = load_config(tmp_path / "c.yaml", environ=environ)
    assert [d.api_key for d in config.deployments] == [
        Secret("dotenv-key"), Secret("section-key"), Secret("shell")]
    assert environ["NUMBER"] == "3"


def test_master_key_from_the_environment() -> None:
    config = parse_config({"model_list": [entry()]}, "c",
                          environ={"GATEWISE_MASTER_KEY": "sk-master"})
    assert config.master_key == Secret("sk-master")
    assert parse_config({"model_list": [entry()]}, "c", environ={}).master_key is None


def test_body_limit_settings() -> None:
    def limit(general: dict[str, Any]) -> int:
        return parse_config({"model_list": [entry()], "general_settings": general}, "c",
                            environ={}).max_request_body_bytes
    assert limit({}) == 10 * 1024 * 1024
    assert limit({"max_request_body_bytes": 1000}) == 1000
    assert limit({"max_request_size_mb": 2}) == 2 * 1024 * 1024


def test_yaml_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the config file"):
        load_config(tmp_path / "missing.yaml", environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad, environ={})


def test_provider_params_are_checked_by_the_adapter_at_startup() -> None:
    config = parse_config({"model_list": [entry(temperature=0.3), entry(logprobs=True)]},
                          "config.yaml", environ={})
    with pytest.raises(ConfigError) as info:
        build_deployments(config, default_catalogue(), environ={})
    (problem,) = info.value.problems
    assert problem.startswith("config.yaml: model_list[1].params: Mistral does not support the "
                              "parameter(s) logprobs")


def test_deployments_know_their_missing_key_and_hide_it() -> None:
    config = parse_config({"model_list": [
        {"model_name": "env", "params": {"model": "mistral/mistral-small-latest"}},
        {"model_name": "keyed", "params": {"model": "mistral/mistral-small-latest",
                                           "api_key": "sk-secret"}},
        {"model_name": "env", "params": {"model": "mistral/mistral-small-latest"},
         "model_info": {"id": "second"}},
    ]}, "c", environ={})
    deployments = build_deployments(config, default_catalogue(), environ={})
    assert [d.id for d in deployments] == ["env#0", "keyed#0", "second"]
    assert deployments[0].problem == "MISTRAL_API_KEY is not set"
    assert deployments[1].problem is None
    assert "sk-secret" not in repr(deployments) + repr(config)
    entry = deployments[1].router_entry()
    assert entry["params"]["api_key"] == "sk-secret"
    assert entry["model_info"] == {"id": "keyed#0"}


def test_secret_never_shows() -> None:
    secret = Secret("sk-very-secret")
    assert repr(secret) == str(secret) == f"{secret}" == "'***'"
    assert secret.reveal() == "sk-very-secret"
    assert secret.matches(b"sk-very-secret")
    assert not secret.matches(b"sk-very-secreT")


def test_the_ledger_batches_as_configured() -> None:
    config = parse_config({"model_list": [entry()], "general_settings": {
        "proxy_batch_write_at": 0.5, "ledger_batch_size": 100, "ledger_max_queue": 5000}},
        "c.yaml", environ={})
    assert (config.ledger.flush_interval, config.ledger.batch_size,
            config.ledger.max_queue) == (0.5, 100, 5000)
    assert parse_config({"model_list": [entry()]}, "c.yaml", environ={}).ledger.batch_size == 500
    with pytest.raises(ConfigError) as refused:
        parse_config({"model_list": [entry()], "general_settings": {
            "ledger_batch_size": 0, "proxy_batch_write_at": "soon"}}, "c.yaml", environ={})
    assert len(refused.value.problems) == 2
    assert {p.split(":")[1].strip() for p in refused.value.problems} == {
        "general_settings.ledger_batch_size", "general_settings.proxy_batch_write_at"}


def test_credentials_in_an_api_base_are_refused_without_repeating_them() -> None:
    (found,) = problems({"model_list": [entry(
        api_base="https://user:hunter2-secret@api.mistral.ai/v1")]})
    assert "api_base: must not carry credentials" in found
    assert "hunter2" not in found
