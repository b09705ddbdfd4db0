"""Alembic's environment: always run on a connection the caller opened (``migrate.py``
shares its async engine's connection through ``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from gatewise.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only gatewise.db.migrate runs this environment
    raise RuntimeError("run migrations through gatewise.db.migrate (gatewise db upgrade)")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  version_table="gatewise_alembic_version")
with context.begin_transaction():
    context.run_migrations()
