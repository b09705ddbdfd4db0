"""The proxy's database: keys, teams, users, end users, and the spend ledger.

Loaded only when a database is configured (``general_settings.database_url`` or
``DATABASE_URL``, or a master key with the embedded SQLite default): ``import gatewise`` and
the SDK never import SQLAlchemy.  One schema, two backends: SQLite (embedded, through
aiosqlite) and PostgreSQL (production, through asyncpg), with versioned migrations
(Alembic) applied at startup or by ``gatewise db upgrade``.

::

    url.py        the URL: parsing, the embedded default path, a repr without the password
    schema.py     the tables (SQLAlchemy Core)
    migrations/   Alembic's environment and the versions
    migrate.py    upgrade to the latest version, one process at a time
    database.py   ``Database``: the engine, opened and migrated, closed

    transactions.py   management reads and writes, the database's failures made typed
    changes.py        the change list other processes poll to drop what they cached
    rows.py           stored rows -> the access layer's values
    keys.py, teams.py, members.py, users.py, customers.py
                      the management API's repositories (``gatewise.proxy.routes``)
    ledger.py     ``LedgerWriter``: spend rows queued off the request path, written in batches
    ledger_batch.py   one batch's transaction (idempotent, aggregates), budget period resets
    ledger_sink.py    ``LedgerSink``: a request's record as a spend log row
    spend_queries.py  the ledger read back: /spend/logs and /global/spend/report
"""
