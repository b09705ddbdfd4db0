"""The plain key is shown once and stored, listed or logged nowhere; the database's
failures are clear answers (503), never a 500."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from gatewise.db.database import Database
from gatewise.db.url import parse_database_url
from gatewise.proxy.access.secrets import digest
from tests._net import free_port
from tests._services import Postgres
from tests.management._client import Admin
from tests.management.conftest import open_app
from tests.proxy.conftest import call


def _stored_bytes(database_url: str, request: pytest.FixtureRequest) -> bytes:
    """Everything the database holds: the SQLite files, or a dump of the PostgreSQL
    database."""
    url = parse_database_url(database_url)
    if url.path is not None:
        return b"".join(p.read_bytes() for p in url.path.parent.iterdir()
                        if p.name.startswith(url.path.name))
    server: Postgres = request.getfixturevalue("postgres")
    name = database_url.rsplit("/", 1)[1]
    return subprocess.run(
        [*server.prefix, str(server.bindir / "pg_dump"), "-h", "127.0.0.1", "-p",
         str(server.port), "-U", "postgres", name], check=True, capture_output=True,
        timeout=60).stdout


async def test_the_plain_key_is_nowhere_but_its_first_answer(
        admin: Admin, database_url: str, request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await admin.ok("/team/new", {"team_id": "t"})
    plains: list[str] = []
    made = await admin.ok("/key/generate", {"team_id": "t", "key_alias": "a"})
    plains.append(made["key"])
    plains.append((await admin.ok("/key/generate", {"key": "sk-chosen-by-caller-1"}))["key"])
    user = await admin.ok("/user/new", {"user_id": "u"})
    plains.append(user["key"])
    fresh = await admin.ok("/key/regenerate", {"key": made["key"]})
    plains.append(fresh["key"])
    answers: list[Any] = [
        await admin.ok("/key/update", {"key": fresh["token"], "rpm_limit": 3}),
        await admin.ok("/key/info", key=fresh["token"]),
        await admin.ok("/key/list", return_full_object="true"),
        await admin.ok("/team/info", team_id="t"),
        await admin.ok("/user/info", user_id="u"),
        await admin.ok("/key/block", {"key": fresh["token"]}),
    ]
    await admin.error(404, "/key/info", key=made["key"])  # the old value, gone
    text = repr(answers)
    stored = _stored_bytes(database_url, request)
    assert digest(plains[1]) in text  # the check sees tokens: the plain keys are absent
    for plain in plains:
        assert plain not in text
        assert plain.encode() not in stored
        assert plain not in caplog.text
    assert fresh["token"].encode() in stored


async def test_no_database_configured_is_a_503() -> None:
    app = await open_app(None, master_key=None)
    try:
        answer = await call(app, "POST", "/key/generate", {})
        assert answer.status == 503
        assert answer.error()["code"] == "database_not_configured"
    finally:
        await app.state.aclose()


async def test_an_unreachable_database_is_a_503_without_its_password() -> None:
    url = f"postgresql://gw:pw-s3cret@127.0.0.1:{free_port()}/gone"
    app = await open_app(url)  # the proxy starts all the same (master key only)
    try:
        admin = Admin(app)
        error = await admin.error(503, "/key/generate", {})
        assert error["code"] == "database_unavailable"
        # The database goes away after startup: the same answer.
        app.state.db = Database.create(parse_database_url(url))
        for path, body in (("/key/generate", {}), ("/key/list", None),
                           ("/team/new", {"team_id": "t"}), ("/customer/list", None)):
            error = await admin.error(503, path, body)
            assert error["code"] == "database_unavailable"
            assert "pw-s3cret" not in error["message"]
    finally:
        await app.state.aclose()


async def test_a_read_only_sqlite_file_is_a_503(tmp_path: Path) -> None:
    app = await open_app(f"sqlite:///{tmp_path / 'gatewise.db'}")
    try:
        admin = Admin(app)
        made = await admin.ok("/key/generate", {})
        assert app.state.db is not None
        engine = app.state.db.engine
        await engine.dispose()

        def read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        event.listen(engine.sync_engine, "connect", read_only)
        error = await admin.error(503, "/key/generate", {})
        assert error["code"] == "database_unavailable" and "read" in error["message"]
        assert (await admin.ok("/key/info", key=made["token"]))["info"]["token"]
    finally:
        await app.state.aclose()


async def test_a_failing_change_hook_does_not_fail_the_change(
        admin: Admin, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    async def broken(kind: str, ref: str) -> None:
        raise RuntimeError("cache gone")

    monkeypatch.setattr(admin.app.state.access, "changed", broken)
    made = await admin.ok("/key/generate", {})
    assert made["token"] and "the access layer failed" in caplog.text
