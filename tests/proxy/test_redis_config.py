"""``router_settings.redis_*`` and ``REDIS_*``: read in LiteLLM's form, checked with errors
that name the setting and never show the password (nor a URL that may hold it); and
``--workers N`` without Redis: each worker its share of every limit, said at startup."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise.proxy.app import create_app
from gatewise.proxy.config import ConfigError, parse_config
from gatewise.proxy.server import startup_report

PASSWORD = "pw-Z7Q4-secret"
SMALL = "mistral/mistral-small-latest"


def config(environ: dict[str, str] | None = None, **redis: Any) -> Any:
    data = {"model_list": [{"model_name": "m", "params": {
        "model": SMALL, "mock_response": "hi", "rpm": 10, "tpm": 1000}}]}
    if redis:
        data["router_settings"] = redis
    return parse_config(data, "c.yaml", environ=environ or {})


def problems(environ: dict[str, str] | None = None, **redis: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config(environ, **redis)
    for problem in info.value.problems:
        assert PASSWORD not in problem
    return info.value.problems


def test_host_port_password_and_gatewise_own_settings() -> None:
    redis = config(redis_host="cache.internal", redis_port=6380, redis_password=PASSWORD,
                   redis_failure_mode="closed", redis_timeout=0.25).redis
    assert redis is not None
    assert (redis.host, redis.port, redis.db, redis.password) == (
        "cache.internal", 6380, 0, PASSWORD)
    assert (redis.failure_mode, redis.timeout, redis.ssl) == ("closed", 0.25, False)
    assert redis.password_source == "router_settings.redis_password"
    assert redis.address == "redis://cache.internal:6380/0"
    assert PASSWORD not in repr(redis) and PASSWORD not in repr(config(redis_host="h"))


def test_urls_with_tls_user_password_and_database() -> None:
    redis = config(redis_url=f"rediss://app:{PASSWORD}@cache:6390/2").redis
    assert redis is not None
    assert (redis.host, redis.port, redis.db, redis.username, redis.password, redis.ssl) == (
        "cache", 6390, 2, "app", PASSWORD, True)
    assert redis.password_source == "router_settings.redis_url"
    assert redis.address == "rediss://app@cache:6390/2"
    plain = config(redis_url="redis://cache").redis
    assert plain is not None and (plain.port, plain.db, plain.ssl) == (6379, 0, False)


def test_the_environment_names_a_redis_the_config_does_not() -> None:
    redis = config({"REDIS_HOST": "envhost", "REDIS_PORT": "6400",
                    "REDIS_PASSWORD": PASSWORD}).redis
    assert redis is not None and (redis.host, redis.port) == ("envhost", 6400)
    assert redis.password == PASSWORD and redis.password_source == "REDIS_PASSWORD"
    from_url = config({"REDIS_URL": "redis://urlhost:6401/1", "REDIS_HOST": "ignored"}).redis
    assert from_url is not None and (from_url.host, from_url.port, from_url.db) == (
        "urlhost", 6401, 1)
    # the config wins over the environment
    ours = config({"REDIS_URL": "redis://envhost"}, redis_host="confighost").redis
    assert ours is not None and ours.host == "confighost"
    assert config({"REDIS_PASSWORD": PASSWORD}).redis is None  # a password names no Redis
    assert config().redis is None


def test_problems_name_the_setting_never_the_password_or_the_url() -> None:
    url = f"http://user:{PASSWORD}@cache:6379"
    assert problems(redis_url=url) == [
        "c.yaml: router_settings.redis_url: must be a redis:// or rediss:// URL (e.g. "
        "redis://localhost:6379/0, or rediss://:password@host:6380/0); this one has http://"]
    assert problems({"REDIS_URL": f"redis://:{PASSWORD}@cache:99999"}) == [
        "c.yaml: REDIS_URL: has a port that is not a number from 1 to 65535"]
    assert problems(redis_url=f"redis://:{PASSWORD}@cache/zero") == [
        "c.yaml: router_settings.redis_url: has a path that is not a database number "
        "(e.g. /0)"]
    assert problems(redis_url="redis://h", redis_host="h") == [
        "c.yaml: router_settings.redis_url: give either redis_url or redis_host (and "
        "redis_port), not both"]
    assert problems({"REDIS_PORT": "six"}, redis_host="h") == [
        "c.yaml: REDIS_PORT: must be a number, got a string"]
    assert problems(redis_host="h", redis_port=70000) == [
        "c.yaml: router_settings.redis_port: must be a port number (1-65535), got 70000"]
    assert problems(redis_host="h", redis_failure_mode="sometimes") == [
        "c.yaml: router_settings.redis_failure_mode: must be open or closed, got 'sometimes'"]
    assert problems(redis_host="h", redis_timeout=0) == [
        "c.yaml: router_settings.redis_timeout: must be a number of seconds > 0"]
    assert problems(redis_host="h", redis_password="os.environ/UNSET_REDIS_PW") == [
        "c.yaml: router_settings.redis_password: UNSET_REDIS_PW is not set (referenced as "
        "os.environ/UNSET_REDIS_PW)"]


def test_settings_without_a_redis_are_warned_about() -> None:
    warned = config(redis_port=6380, redis_password=PASSWORD)
    assert warned.redis is None
    assert warned.warnings == (
        "c.yaml: router_settings.redis_password: ignored: no redis_host or redis_url is set",
        "c.yaml: router_settings.redis_port: ignored: no redis_host or redis_url is set")


def limits(app: Any) -> tuple[int | None, int | None]:
    deployment = app.state.router.deployments[0]
    return deployment.rpm, deployment.tpm


def test_workers_without_redis_each_keep_their_share_and_say_so() -> None:
    app = create_app(config(), workers=2)
    assert app.state.share == 2 and app.state.shared is None
    assert limits(app) == (5, 500)
    report = "\n".join(startup_report(app.state))
    assert "WARNING: --workers 2 without Redis: each worker enforces 1/2 of every limit" in report
    assert "router_settings.redis_host (or REDIS_URL)" in report
    one = create_app(config(), workers=1)
    assert limits(one) == (10, 1000) and "--workers" not in "\n".join(startup_report(one.state))


def test_workers_with_redis_keep_the_whole_limits() -> None:
    app = create_app(config(redis_host="127.0.0.1"), workers=2)
    assert app.state.share == 1 and app.state.shared is not None
    assert limits(app) == (10, 1000)
    assert app.state.router.store is app.state.shared.store
    report = "\n".join(startup_report(app.state))
    assert "shared state: Redis at redis://127.0.0.1:6379/0" in report
    assert "--workers" not in report
