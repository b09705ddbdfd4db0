"""The ledger writer on both backends: rows, idempotency, aggregates, failures, shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

import gatewise.db.ledger as ledger_module
from gatewise.db.database import Database
from gatewise.db.ledger import LedgerSettings, LedgerWriter
from gatewise.db.ledger_batch import BatchResult, write_batch
from gatewise.db.ledger_sink import LedgerSink, _UtcText, spend_row
from gatewise.db.url import parse_database_url
from tests.db._ledger import NOW, add_identities, ledger_rows, record, spend_of, until

KEY = "k" * 64


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(parse_database_url(database_url))
    yield database
    await database.close()


async def test_a_record_becomes_a_row_with_every_field(database: Database) -> None:
    writer = LedgerWriter(database)
    sink = LedgerSink(writer)
    sink.emit(record("call-1", key_alias="ci", deployment_id="dep-1", reasoning_tokens=2,
                     ttft=0.125, stream=True, usage_estimated=True, retries=1, fallbacks=1,
                     error_type=None, end_user="x" * 1000))
    await sink.aclose()
    [row] = await ledger_rows(database)
    start = row.pop("start_time")
    end = row.pop("end_time")
    assert start.replace(tzinfo=start.tzinfo or UTC) == NOW
    assert end.replace(tzinfo=end.tzinfo or UTC) == NOW + timedelta(seconds=0.5)
    assert row == {
        "request_id": "call-1", "api_key": KEY, "key_alias": "ci", "team_id": "team-a",
        "user_id": "user-a", "end_user": "x" * 256, "route": "chat", "model_group": "small",
        "deployment_id": "dep-1", "model": "mistral-small-latest", "prompt_tokens": 10,
        "completion_tokens": 5, "reasoning_tokens": 2, "total_tokens": 15, "spend": 0.25,
        "status_code": 200, "error_type": None, "latency_ms": 500.0, "ttft_ms": 125.0,
        "stream": True, "usage_estimated": True, "mock": False, "retries": 1,
        "fallbacks": 1}
    assert writer.counters() == {"queued": 0, "written": 1, "duplicates": 0, "batches": 1,
                                 "failures": 0, "dropped": 0, "rejected": 0, "resets": 0}


async def test_the_same_call_id_twice_is_one_row_counted_once(database: Database) -> None:
    await add_identities(database)
    writer = LedgerWriter(database)
    writer.submit(spend_row(record("call-1")))
    writer.submit(spend_row(record("call-1")))  # the same batch
    assert await writer.flush(30)
    writer.submit(spend_row(record("call-1")))  # a later batch
    await writer.aclose()
    assert len(await ledger_rows(database)) == 1
    assert await spend_of(database) == {"key:" + KEY: 0.25, "team:team-a": 0.25,
                                        "user:user-a": 0.25, "customer:cust-a": 0.25}
    assert (writer.written, writer.duplicates) == (1, 2)


async def test_aggregates_of_keys_teams_users_and_end_users(database: Database) -> None:
    await add_identities(database)
    await add_identities(database, key="b" * 64, team="team-b", user="user-b",
                         customer="cust-b")
    writer = LedgerWriter(database, LedgerSettings(batch_size=7))
    costs = {"key": 0.0, "team": 0.0, "user": 0.0, "cust": 0.0}
    for n in range(40):
        # The second key belongs to team-b and user-b; some rows have no key, no end
        # user, or an end user without a budget (no row: not counted anywhere).
        key = (KEY, "b" * 64, None)[n % 3]
        end_user = ("cust-a", None, "nobody")[n % 3]
        cost = 0.001 * (n + 1)
        team, user = ("team-a", "user-a") if n % 3 != 1 else ("team-b", "user-b")
        writer.submit(spend_row(record(f"call-{n}", cost=cost, key=key, team=team,
                                       user=user, end_user=end_user)))
        if key == KEY:
            costs["key"] += cost
        if team == "team-a":
            costs["team"] += cost
        if user == "user-a":
            costs["user"] += cost
        if end_user == "cust-a":
            costs["cust"] += cost
    await writer.aclose()
    spend = await spend_of(database)
    assert spend["key:" + KEY] == pytest.approx(costs["key"])
    assert spend["team:team-a"] == pytest.approx(costs["team"])
    assert spend["user:user-a"] == pytest.approx(costs["user"])
    assert spend["customer:cust-a"] == pytest.approx(costs["cust"])
    assert spend["customer:cust-b"] == 0
    total = sum(0.001 * (n + 1) for n in range(40))
    assert spend["team:team-a"] + spend["team:team-b"] == pytest.approx(total)
    assert writer.batches == 6 and writer.written == 40


async def test_a_batch_retried_after_an_unknown_commit_counts_once(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit went through but the writer was told it failed (a connection cut at the
    wrong moment): the retry inserts nothing and adds nothing."""
    await add_identities(database)
    calls = 0

    async def committed_then_lost(engine: Any, rows: Any) -> BatchResult:
        nonlocal calls
        calls += 1
        result = await write_batch(engine, rows)
        if calls == 1:
            raise OSError("connection reset while reading the commit's answer")
        return result

    monkeypatch.setattr(ledger_module, "write_batch", committed_then_lost)
    writer = LedgerWriter(database)
    for n in range(10):
        writer.submit(spend_row(record(f"call-{n}", cost=0.5)))
    await writer.aclose()
    assert calls == 2 and writer.failures == 1
    assert len(await ledger_rows(database)) == 10
    assert (await spend_of(database))["key:" + KEY] == pytest.approx(5.0)
    assert (writer.written, writer.duplicates) == (0, 10)  # the retry found them all


async def test_a_batch_partly_written_already_inserts_and_counts_only_the_rest(
        database: Database) -> None:
    """Some of a batch's rows in the ledger already (cut into statements of several sizes):
    the others go in, and only their spend is added, once."""
    await add_identities(database)
    rows = [spend_row(record(f"call-{n:03d}", cost=0.5)) for n in range(341)]
    first = await write_batch(database.engine, rows[:7])
    assert first.inserted == {f"call-{n:03d}" for n in range(7)}
    second = await write_batch(database.engine, rows)
    assert second.inserted == {f"call-{n:03d}" for n in range(7, 341)}
    assert len(await ledger_rows(database)) == 341
    assert (await spend_of(database))["key:" + KEY] == pytest.approx(341 * 0.5)
    assert (await write_batch(database.engine, rows[300:])).inserted == set()


async def test_rows_wait_while_the_database_fails_and_the_outage_is_logged_once(
        database: Database, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    await add_identities(database)
    failing = True

    async def flaky(engine: Any, rows: Any) -> BatchResult:
        if failing:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await write_batch(engine, rows)

    monkeypatch.setattr(ledger_module, "write_batch", flaky)
    writer = LedgerWriter(database, LedgerSettings(flush_interval=0.05))
    with caplog.at_level(logging.WARNING, "gatewise.ledger"):
        for n in range(20):
            writer.submit(spend_row(record(f"call-{n}")))
        await until(lambda: writer.failures >= 3)
        assert writer.queued == 20
        failing = False
        assert await writer.flush(30)
    await writer.aclose()
    assert len(await ledger_rows(database)) == 20
    assert (await spend_of(database))["key:" + KEY] == pytest.approx(5.0)
    outages = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(outages) == 1 and "database is locked" in outages[0].getMessage()
    assert sum("writing to" in r.getMessage() for r in caplog.records) == 1


async def test_a_full_queue_drops_new_rows_counted_and_logged(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    writer = LedgerWriter(database, LedgerSettings(max_queue=10))
    with caplog.at_level(logging.WARNING, "gatewise.ledger"):
        # No await in between: the writer has no chance to take any of them yet.
        taken = [writer.submit(spend_row(record(f"call-{n}"))) for n in range(15)]
        assert taken == [True] * 10 + [False] * 5
        assert writer.dropped == 5
        await writer.aclose()
    assert len(await ledger_rows(database)) == 10
    messages = [r.getMessage() for r in caplog.records]
    assert sum("being dropped" in m for m in messages) == 1
    assert any("5 spend rows were dropped" in m for m in messages)


async def test_close_flushes_what_is_queued(database: Database) -> None:
    writer = LedgerWriter(database, LedgerSettings(flush_interval=3600, batch_size=10_000))
    for n in range(1234):
        writer.submit(spend_row(record(f"call-{n}")))
    await writer.aclose()
    assert len(await ledger_rows(database)) == 1234
    assert writer.submit(spend_row(record("late"))) is False and writer.dropped == 1


async def test_close_with_the_database_away_counts_the_loss(
        database: Database, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def down(engine: Any, rows: Any) -> BatchResult:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(ledger_module, "write_batch", down)
    writer = LedgerWriter(database)
    for n in range(30):
        writer.submit(spend_row(record(f"call-{n}")))
    with caplog.at_level(logging.ERROR, "gatewise.ledger"):
        await writer.aclose(timeout=0.3)
    assert writer.dropped == 30 and writer.queued == 0
    assert any("30 spend rows could not be written" in r.getMessage()
               for r in caplog.records)


async def test_a_row_the_database_refuses_is_isolated(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    writer = LedgerWriter(database)
    for n in range(9):
        row = spend_row(record(f"call-{n}"))
        if n == 4:
            row["status_code"] = None  # NOT NULL: the database refuses it
        writer.submit(row)
    with caplog.at_level(logging.ERROR, "gatewise.ledger"):
        await writer.aclose()
    assert [r["request_id"] for r in await ledger_rows(database)] == [
        f"call-{n}" for n in range(9) if n != 4]
    assert writer.rejected == 1 and writer.failures == 0
    assert any("call-4" in r.getMessage() for r in caplog.records)


async def test_ended_budget_periods_are_reset_once(database: Database) -> None:
    past = datetime.now(UTC) - timedelta(hours=1, minutes=30)
    await add_identities(database, budget_duration="1h", budget_reset_at=past, spend=3.0)
    await add_identities(database, key="f" * 64, team="team-f", user="user-f",
                         customer="cust-f", budget_duration="1h",
                         budget_reset_at=datetime.now(UTC) + timedelta(minutes=5),
                         spend=2.0)
    writer = LedgerWriter(database, LedgerSettings(reset_interval=0.05))
    writer.start()
    await until(lambda: writer.resets >= 4)
    writer.submit(spend_row(record("after-reset", cost=0.5)))
    await writer.aclose()
    spend = await spend_of(database)
    assert spend["key:" + KEY] == spend["team:team-a"] == spend["user:user-a"] == 0.5
    assert spend["customer:cust-a"] == 0.5
    assert spend["key:" + "f" * 64] == 2.0  # its period has not ended
    assert writer.resets == 4  # one per identity, not once per pass
    from gatewise.db.schema import changes, keys

    async with database.engine.connect() as connection:
        reset_at = (await connection.execute(
            sa.select(keys.c.budget_reset_at).where(keys.c.token == KEY))).scalar_one()
        kinds = sorted((await connection.execute(sa.select(changes.c.kind))).scalars())
    reset_at = reset_at.replace(tzinfo=reset_at.tzinfo or UTC)
    assert reset_at == past + timedelta(hours=2)  # the end of the period holding now
    assert kinds == ["customer", "key", "team", "user"]


async def test_thousands_of_rows(database: Database) -> None:
    for n in range(5):
        await add_identities(database, key=f"{n}" * 64, team=f"team-{n}", user=f"user-{n}",
                             customer=f"cust-{n}")
    writer = LedgerWriter(database, LedgerSettings(batch_size=300))
    expected: dict[str, float] = {}
    for n in range(6000):
        who = n % 5
        cost = (n % 7) * 0.0001
        writer.submit(spend_row(record(f"call-{n:05d}", cost=cost, key=f"{who}" * 64,
                                       team=f"team-{who}", user=f"user-{who}",
                                       end_user=f"cust-{who}")))
        expected[f"{who}"] = expected.get(f"{who}", 0.0) + cost
    await writer.aclose()
    async with database.engine.connect() as connection:
        from gatewise.db.schema import spend_logs

        count = (await connection.execute(
            sa.select(sa.func.count()).select_from(spend_logs))).scalar_one()
    assert count == 6000 and writer.written == 6000
    spend = await spend_of(database)
    for who, cost in expected.items():
        for kind, ref in (("key", who * 64), ("team", f"team-{who}"),
                          ("user", f"user-{who}"), ("customer", f"cust-{who}")):
            assert spend[f"{kind}:{ref}"] == pytest.approx(cost)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        LedgerSettings(batch_size=0)
    with pytest.raises(ValueError, match="flush_interval"):
        LedgerSettings(flush_interval=-1)


@settings(max_examples=300, deadline=None)
@given(t=st.one_of(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(0, 4_000_000_000).map(lambda s: s + 0.9999995),  # rounds up to a second
    st.integers(0, 4_000_000_000).map(lambda s: s + 0.0000005)))
def test_a_rows_times_are_written_as_datetime_writes_them(t: float) -> None:
    """The ledger's own time text (whole seconds kept, microseconds rounded half to even)
    is ``datetime``'s, to the microsecond."""
    write = _UtcText()
    assert write(t) == datetime.fromtimestamp(t, UTC).isoformat(" ", "microseconds")
    assert write(t) == write(t)  # (the second time from its kept seconds)
