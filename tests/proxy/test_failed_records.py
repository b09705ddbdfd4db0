"""A routed request that fails still says, in its one record, what the router did: the
retries made, the fallbacks tried, the last deployment (and upstream model) attempted; the
Prometheus counters and the ledger's failure row say the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatewise.db.database import Database
from gatewise.db.url import parse_database_url
from gatewise.proxy.app import ProxyApp
from gatewise.record import RequestRecord
from tests.db._ledger import ledger_rows
from tests.fake_mistral import FakeMistral, Status
from tests.proxy._metrics import parse, value
from tests.proxy.conftest import HELLO, Recorder, call, make_app


def _config(fake: FakeMistral, url: str) -> dict[str, Any]:
    params = {"api_key": "test-key", "api_base": fake.base_url}
    return {
        "model_list": [
            {"model_name": "small", "params": {**params, "model": "mistral/mistral-small-latest"},
             "model_info": {"id": "small-a"}},
            {"model_name": "large", "params": {**params, "model": "mistral/mistral-large-latest"},
             "model_info": {"id": "large-b"}}],
        "router_settings": {"num_retries": 1, "allowed_fails": 100, "retry_backoff": 0.01,
                            "fallbacks": [{"small": ["large"]}]},
        "litellm_settings": {"callbacks": ["prometheus"]},
        "general_settings": {"database_url": url}}


async def _run(app: ProxyApp, body: dict[str, Any]) -> tuple[RequestRecord, dict[str, Any]]:
    records = Recorder()
    app.state.sinks.add(records)  # type: ignore[arg-type]
    answer = await call(app, "POST", "/chat/completions", {"messages": HELLO, **body})
    assert answer.status == 503, answer.body
    # small: one attempt, then the fallback; large: its attempt and one retry.
    assert answer.headers["x-gatewise-attempted-retries"] == "1"
    assert answer.headers["x-gatewise-attempted-fallbacks"] == "1"
    [record] = records.records
    return record, answer.headers


@pytest.mark.parametrize("stream", [False, True])
async def test_a_failed_routed_call_keeps_its_retries_fallbacks_and_last_deployment(
        fake_mistral: FakeMistral, tmp_path: Path, stream: bool) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    app = make_app(_config(fake_mistral, url))
    await app.state.start()
    try:
        fake_mistral.script(*[Status(503)] * 3)
        record, _ = await _run(app, {"model": "small", "stream": stream})
        assert len(fake_mistral.requests) == 3
        metrics = parse((await call(app, "GET", "/metrics")).body.decode())
    finally:
        await app.state.aclose()
    assert (record.status, record.retries, record.fallbacks) == (503, 1, 1)
    assert record.deployment_id == "large-b"
    assert record.model == "mistral/mistral-large-latest"
    assert record.model_group == "small"  # what was asked for
    assert value(metrics, "gatewise_retries_total", model_group="small") == 1
    assert value(metrics, "gatewise_fallbacks_total", model_group="small") == 1
    database = await Database.open(parse_database_url(url))
    try:
        [row] = await ledger_rows(database)
    finally:
        await database.close()
    assert row["request_id"] == record.call_id
    assert (row["status_code"], row["retries"], row["fallbacks"]) == (503, 1, 1)
    assert (row["deployment_id"], row["model"]) == ("large-b", "mistral/mistral-large-latest")
    assert row["spend"] == 0


async def test_a_refused_request_tried_nothing(fake_mistral: FakeMistral, tmp_path: Path
                                               ) -> None:
    """A request error is not retried: one attempt, on the deployment that refused it."""
    app = make_app(_config(fake_mistral, f"sqlite:///{tmp_path / 'g.db'}"))
    await app.state.start()
    records = Recorder()
    app.state.sinks.add(records)  # type: ignore[arg-type]
    try:
        fake_mistral.script(Status(400))
        answer = await call(app, "POST", "/chat/completions",
                            {"model": "large", "messages": HELLO})
        assert answer.status == 400
    finally:
        await app.state.aclose()
    [record] = records.records
    assert (record.retries, record.fallbacks) == (0, 0)
    assert (record.deployment_id, record.model) == ("large-b", "mistral/mistral-large-latest")
