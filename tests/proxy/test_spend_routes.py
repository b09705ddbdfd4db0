"""``GET /spend/logs`` and ``GET /global/spend/report`` on both backends, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from gatewise.db.database import Database
from gatewise.db.ledger import LedgerWriter
from gatewise.db.ledger_sink import spend_row
from gatewise.db.url import parse_database_url
from gatewise.proxy.access.secrets import digest
from gatewise.proxy.app import ProxyApp
from gatewise.proxy.record import RequestRecord
from tests.access._keys import add_key, add_team, add_user
from tests.db._ledger import add_identities, spend_of
from tests.fake_mistral import FakeMistral
from tests.proxy.conftest import HELLO, Answer, call, make_app

PLAIN = "sk-plain-key-of-team-a"
TOKEN = digest(PLAIN)
OTHER = "b" * 64


def _at(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, 30, tzinfo=UTC).timestamp()


LEDGER = [  # call id, day of November, hour, key, team, user, end user, model group, cost
    ("a1", 1, 9, TOKEN, "team-a", "user-a", "cust-a", "small", 0.5),
    ("a2", 1, 23, TOKEN, "team-a", "user-a", "cust-b", "large", 1.0),
    ("a3", 2, 0, TOKEN, "team-a", "user-a", "cust-a", "small", 0.25),
    ("b1", 2, 12, OTHER, "team-b", "user-b", None, "small", 2.0),
    ("n1", 3, 12, None, None, None, None, "small", 0.125),
]


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[ProxyApp]:
    database = await Database.open(parse_database_url(database_url))
    await add_identities(database, key=TOKEN, team="team-a", user="user-a", customer="cust-a")
    writer = LedgerWriter(database)
    for call_id, day, hour, key, team, user, end_user, group, cost in LEDGER:
        writer.submit(spend_row(RequestRecord(
            call_id=call_id, route="chat", start=_at(day, hour), key_id=key,
            key_alias="alias-a" if key == TOKEN else None, team_id=team, user_id=user,
            end_user=end_user, model_group=group, model=f"mistral-{group}-latest",
            status=200, prompt_tokens=10, completion_tokens=5, cost=cost, latency=0.25,
            ttft=0.1)))
    writer.submit(spend_row(RequestRecord(
        call_id="f1", route="embeddings", start=_at(3, 13), status=429,
        error_type="RateLimitError", model_group="small")))
    await writer.aclose()
    app = make_app({"model_list": [{"model_name": "small", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "hi"}}]})
    app.state.db = database
    yield app
    await app.state.aclose()
    await database.close()


async def get(app: ProxyApp, path: str, query: str = "") -> Answer:
    return await call(app, "GET", path, query=query.encode())


def ids(answer: Answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [row["request_id"] for row in answer.json()]


async def test_logs_in_litellm_row_shape(app: ProxyApp) -> None:
    answer = await get(app, "/spend/logs", "request_id=a1")
    [row] = answer.json()
    assert row == {
        "request_id": "a1", "call_type": "acompletion", "api_key": TOKEN, "spend": 0.5,
        "total_tokens": 15, "prompt_tokens": 10, "completion_tokens": 5,
        "startTime": "2026-11-01T09:30:00+00:00", "endTime": "2026-11-01T09:30:00.250000+00:00",
        "completionStartTime": "2026-11-01T09:30:00.100000+00:00",
        "model": "mistral-small-latest", "model_id": None, "model_group": "small",
        "user": "user-a", "team_id": "team-a", "end_user": "cust-a", "status": "success",
        "cache_hit": "False", "request_tags": [],
        "metadata": {"user_api_key_alias": "alias-a", "user_api_key_team_id": "team-a",
                     "user_api_key_user_id": "user-a", "status": "success"},
        "key_alias": "alias-a", "route": "chat", "status_code": 200, "error_type": None,
        "reasoning_tokens": 0, "latency_ms": 250.0, "ttft_ms": 100.0, "stream": False,
        "usage_estimated": False, "mock": False, "retries": 0, "fallbacks": 0}
    [failed] = (await get(app, "/v1/spend/logs", "request_id=f1")).json()
    assert failed["status"] == "failure" and failed["call_type"] == "aembedding"
    assert failed["metadata"]["error_information"] == {"error_code": "429",
                                                       "error_class": "RateLimitError"}


async def test_logs_filters(app: ProxyApp) -> None:
    assert ids(await get(app, "/spend/logs")) == ["f1", "n1", "b1", "a3", "a2", "a1"]
    assert ids(await get(app, "/spend/logs", f"api_key={PLAIN}")) == ["a3", "a2", "a1"]
    assert ids(await get(app, "/spend/logs", f"api_key={TOKEN}")) == ["a3", "a2", "a1"]
    assert ids(await get(app, "/spend/logs", "user_id=user-b")) == ["b1"]
    assert ids(await get(app, "/spend/logs", "team_id=team-a&end_user=cust-a")) == ["a3", "a1"]
    assert ids(await get(app, "/spend/logs", "request_id=nope")) == []
    # One date alone filters rows; a time narrows within the day.
    assert ids(await get(app, "/spend/logs", "start_date=2026-11-02")) == ["f1", "n1", "b1",
                                                                          "a3"]
    assert ids(await get(app, "/spend/logs", "end_date=2026-11-01")) == ["a2", "a1"]
    assert ids(await get(app, "/spend/logs", "start_date=2026-11-01%2010:00:00&end_date="
                                             "2026-11-02T00:30:00Z&summarize=false")
               ) == ["a3", "a2"]


async def test_logs_limit_and_offset(app: ProxyApp) -> None:
    first = await get(app, "/spend/logs", "limit=4")
    assert ids(first) == ["f1", "n1", "b1", "a3"]
    assert first.headers["x-gatewise-next-offset"] == "4"
    rest = await get(app, "/spend/logs", "limit=4&offset=4")
    assert ids(rest) == ["a2", "a1"] and "x-gatewise-next-offset" not in rest.headers


async def test_logs_summarized_by_day_as_litellm_does(app: ProxyApp) -> None:
    answer = await get(app, "/spend/logs", "start_date=2026-11-01&end_date=2026-11-04")
    assert answer.status == 200
    assert answer.json() == [
        {"startTime": "2026-11-01", "spend": 1.5, TOKEN: 1.5, "users": {"user-a": 1.5},
         "models": {"mistral-small-latest": 0.5, "mistral-large-latest": 1.0}},
        {"startTime": "2026-11-02", "spend": 2.25, TOKEN: 0.25, OTHER: 2.0,
         "users": {"user-a": 0.25, "user-b": 2.0}, "models": {"mistral-small-latest": 2.25}},
        {"startTime": "2026-11-03", "spend": 0.125, "": 0.125, "users": {"": 0.125},
         "models": {"mistral-small-latest": 0.125, "": 0.0}},
        {"startTime": "2026-11-04", "spend": 0.0, "users": {}, "models": {}},
    ]


async def test_report_by_team(app: ProxyApp) -> None:
    answer = await get(app, "/global/spend/report", "start_date=2026-11-01&end_date=2026-11-02")
    assert answer.status == 200
    days = answer.json()
    assert [d["group_by_day"] for d in days] == ["2026-11-01T00:00:00+00:00",
                                                 "2026-11-02T00:00:00+00:00"]
    [team_a] = days[0]["teams"]
    assert team_a["team_name"] == "team-a" and team_a["total_spend"] == 1.5
    assert team_a["metadata"] == [
        {"model": "mistral-large-latest", "api_key": TOKEN, "spend": 1.0, "total_tokens": 15},
        {"model": "mistral-small-latest", "api_key": TOKEN, "spend": 0.5, "total_tokens": 15}]
    assert [(t["team_name"], t["total_spend"]) for t in days[1]["teams"]] == [
        ("team-b", 2.0), ("team-a", 0.25)]


async def test_report_by_customer_model_and_key(app: ProxyApp) -> None:
    query = "start_date=2026-11-01&end_date=2026-11-03&group_by="
    customers = (await get(app, "/global/spend/report", query + "customer")).json()
    assert [(c["customer"], c["total_spend"]) for c in customers[0]["customers"]] == [
        ("cust-b", 1.0), ("cust-a", 0.5)]
    models = (await get(app, "/global/spend/report", query + "model")).json()
    assert [(m["model_group"], m["total_spend"]) for m in models[2]["models"]] == [
        ("small", 0.125)]
    keys = (await get(app, "/global/spend/report", query + "api_key")).json()
    assert [(k["api_key"], k["total_cost"]) for k in keys] == [
        (OTHER, 2.0), (TOKEN, 1.75), (None, 0.125)]
    assert keys[1]["total_input_tokens"] == 30 and len(keys[1]["model_details"]) == 2
    narrowed = (await get(app, "/global/spend/report",
                          query + f"api_key&api_key={PLAIN}")).json()
    assert [k["api_key"] for k in narrowed] == [TOKEN]


@pytest.mark.parametrize(("path", "query", "param"), [
    ("/spend/logs", "start_date=2026-13-01", "start_date"),
    ("/spend/logs", "end_date=yesterday", "end_date"),
    ("/spend/logs", "start_date=2026-11-03&end_date=2026-11-01", "end_date"),
    ("/spend/logs", "key=sk-1", "key"),
    ("/spend/logs", "api_key=", "api_key"),
    ("/spend/logs", "summarize=maybe", "summarize"),
    ("/spend/logs", "limit=0", "limit"),
    ("/spend/logs", "offset=-1", "offset"),
    ("/global/spend/report", "end_date=2026-11-01", "start_date"),
    ("/global/spend/report", "start_date=2026-11-01", "end_date"),
    ("/global/spend/report", "start_date=2026-11-01&end_date=2026-11-02&group_by=day",
     "group_by"),
])
async def test_bad_queries_are_400s_naming_the_parameter(app: ProxyApp, path: str,
                                                         query: str, param: str) -> None:
    answer = await get(app, path, query)
    assert answer.status == 400
    assert answer.error()["param"] == param


MASTER = "sk-master-spend"


@pytest.fixture
async def keyed_app(database_url: str, fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    """The real wiring: a master key, the database opened at start, the ledger its sink."""
    app = make_app({"model_list": [{"model_name": "small", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake_mistral.base_url}}],
        "general_settings": {"master_key": MASTER, "database_url": database_url}})
    await app.state.start()
    yield app
    await app.state.aclose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_admin_only(keyed_app: ProxyApp) -> None:
    database = keyed_app.state.db
    assert database is not None
    await add_user(database, "dev", user_role="internal_user")
    await add_user(database, "boss", user_role="proxy_admin")
    dev, boss = await add_key(database, user_id="dev"), await add_key(database, user_id="boss")
    for path in ("/spend/logs", "/global/spend/report"):
        refused = await call(keyed_app, "GET", path, headers=bearer(dev))
        assert refused.status == 403 and refused.error()["code"] == "admin_only"
    for key in (boss, MASTER):
        answer = await call(keyed_app, "GET", "/spend/logs", headers=bearer(key))
        assert answer.status == 200, answer.body


async def test_requests_through_the_proxy_are_in_the_ledger(keyed_app: ProxyApp) -> None:
    """A virtual key's calls: one row each (the call id the client saw), the key's spend
    from them, read back through /spend/logs."""
    database, writer = keyed_app.state.db, keyed_app.state.ledger
    assert database is not None and writer is not None
    await add_team(database, "team-x")
    key = await add_key(database, team_id="team-x", key_alias="ci")
    seen = []
    for n in range(5):
        answer = await call(keyed_app, "POST", "/v1/chat/completions",
                            {"model": "small", "messages": HELLO, "user": f"end-{n % 2}"},
                            headers=bearer(key))
        assert answer.status == 200, answer.body
        seen.append(answer.headers["x-gatewise-call-id"])
    refused = await call(keyed_app, "POST", "/v1/chat/completions",
                         {"model": "nope", "messages": HELLO}, headers=bearer(key))
    assert refused.status >= 400
    assert await writer.flush(30)
    logs = await call(keyed_app, "GET", "/spend/logs", query=f"api_key={key}".encode(),
                      headers=bearer(MASTER))
    rows = logs.json()
    assert {r["request_id"] for r in rows} >= set(seen)
    served = [r for r in rows if r["request_id"] in seen]
    assert all(r["key_alias"] == "ci" and r["team_id"] == "team-x" and r["spend"] > 0
               and r["model_group"] == "small" for r in served)
    assert sorted({r["end_user"] for r in served}) == ["end-0", "end-1"]
    spend = await spend_of(database)
    assert spend["key:" + digest(key)] == pytest.approx(sum(r["spend"] for r in rows))
    assert spend["team:team-x"] == pytest.approx(spend["key:" + digest(key)])


async def test_without_a_database_or_with_one_down() -> None:
    app = make_app({"model_list": [{"model_name": "small", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "hi"}}]})
    try:
        answer = await get(app, "/spend/logs")
        assert answer.status == 503 and answer.error()["code"] == "no_database"
        down = Database.create(parse_database_url("postgresql://u:hunter2@127.0.0.1:1/x"))
        app.state.db = down
        answer = await get(app, "/global/spend/report",
                           "start_date=2026-11-01&end_date=2026-11-02")
        assert answer.status == 503 and answer.error()["code"] == "database_unavailable"
        assert b"hunter2" not in answer.body
        await down.close()
    finally:
        await app.state.aclose()


def test_each_route_litellm_knows_has_its_call_type() -> None:
    from gatewise.db.spend_queries import _CALL_TYPES
    from gatewise.proxy.routes import MODEL_ROUTES, RECORDED_HANDLERS

    mistral_only = {"fim", "chat_moderations", "classifications", "chat_classifications"}
    routes = {*MODEL_ROUTES.values(), *RECORDED_HANDLERS.values()} - mistral_only
    assert routes <= set(_CALL_TYPES), routes - set(_CALL_TYPES)
    assert _CALL_TYPES["transcription"] == "atranscription"
