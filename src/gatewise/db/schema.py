"""The tables, in SQLAlchemy Core: one schema for SQLite and PostgreSQL.

Identities (keys, teams, users, end users) carry the same budget and limit columns; money is
a double (as LiteLLM's), times are UTC.  ``spend`` is the current budget period's spend
(reset to 0 at ``budget_reset_at``, which then moves on by ``budget_duration``); it is
written only by the ledger writer, in batches, from the rows it inserted (never per
request).  Keys are stored by the SHA-256 digest of the key (``token``, hex): the plain key
is never written anywhere.  ``gatewise_changes`` is an append-only list of "this identity
changed" events that other processes poll to drop what they cached (a fallback for when no
Redis carries the same events by pub/sub).

Changing a table means a new migration in ``migrations/versions`` (``alembic revision``
against this metadata); the schema test checks that the migrations build exactly these
tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = ["changes", "customers", "keys", "metadata", "spend_logs", "teams", "users"]

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

Time = DateTime(timezone=True)


def _budget_columns() -> list[Column[object]]:
    """What every identity that can hold a budget and limits carries."""
    return [
        Column("max_budget", Float, nullable=True),
        Column("budget_duration", String(16), nullable=True),
        Column("budget_reset_at", Time, nullable=True),
        Column("spend", Float, nullable=False, server_default="0"),
        Column("rpm_limit", BigInteger, nullable=True),
        Column("tpm_limit", BigInteger, nullable=True),
        Column("max_parallel_requests", Integer, nullable=True),
        Column("models", JSON, nullable=False),
        Column("metadata", JSON, nullable=False),
        Column("blocked", Boolean, nullable=False, server_default="0"),
        Column("created_at", Time, nullable=False),
        Column("updated_at", Time, nullable=False),
    ]


teams = Table(
    "gatewise_teams", metadata,
    Column("team_id", String(128), primary_key=True),
    Column("team_alias", String(256), nullable=True),
    Column("members", JSON, nullable=False),  # [{"user_id": ..., "role": "admin"|"user"}]
    *_budget_columns(),
)

users = Table(
    "gatewise_users", metadata,
    Column("user_id", String(128), primary_key=True),
    Column("user_email", String(320), nullable=True),
    Column("user_role", String(32), nullable=False),
    Column("teams", JSON, nullable=False),  # team ids
    *_budget_columns(),
)

keys = Table(
    "gatewise_keys", metadata,
    Column("token", String(64), primary_key=True),  # SHA-256 hex of the key
    Column("key_name", String(32), nullable=False),  # "sk-...abcd": enough to recognise it
    Column("key_alias", String(256), nullable=True, unique=True),
    Column("team_id", String(128), ForeignKey("gatewise_teams.team_id", ondelete="SET NULL"),
           nullable=True, index=True),
    Column("user_id", String(128), ForeignKey("gatewise_users.user_id", ondelete="SET NULL"),
           nullable=True, index=True),
    Column("expires", Time, nullable=True),
    Column("created_by", String(128), nullable=True),
    *_budget_columns(),
)

customers = Table(  # end users: the request's `user` field
    "gatewise_customers", metadata,
    Column("user_id", String(256), primary_key=True),
    Column("alias", String(256), nullable=True),
    *_budget_columns(),
)

spend_logs = Table(
    "gatewise_spend_logs", metadata,
    Column("request_id", String(64), primary_key=True),  # gatewise's call id, never the
    # provider's response id (two calls may share one; LiteLLM #28376)
    Column("api_key", String(64), nullable=True),  # the key's token (digest), or None
    Column("key_alias", String(256), nullable=True),
    Column("team_id", String(128), nullable=True),
    Column("user_id", String(128), nullable=True),
    Column("end_user", String(256), nullable=True),
    Column("route", String(64), nullable=False),
    Column("model_group", String(256), nullable=True),
    Column("deployment_id", String(256), nullable=True),
    Column("model", String(256), nullable=True),  # the upstream model
    Column("prompt_tokens", BigInteger, nullable=False, server_default="0"),
    Column("completion_tokens", BigInteger, nullable=False, server_default="0"),
    Column("reasoning_tokens", BigInteger, nullable=False, server_default="0"),
    Column("total_tokens", BigInteger, nullable=False, server_default="0"),
    Column("spend", Float, nullable=False, server_default="0"),
    Column("status_code", Integer, nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("stream", Boolean, nullable=False),
    Column("usage_estimated", Boolean, nullable=False, server_default="0"),
    Column("mock", Boolean, nullable=False, server_default="0"),
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("fallbacks", Integer, nullable=False, server_default="0"),
    Index(None, "api_key", "start_time"),
    Index(None, "team_id", "start_time"),
    Index(None, "user_id", "start_time"),
    Index(None, "end_user", "start_time"),
    Index(None, "start_time"),
)

changes = Table(
    "gatewise_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("kind", String(16), nullable=False),  # key / team / user / customer
    Column("ref", String(256), nullable=False),  # its id (a key: its token)
    Column("at", Time, nullable=False, index=True),
)

