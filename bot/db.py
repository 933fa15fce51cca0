"""Database connection, migrations and the schema check the app runs before it starts.

One set of tortoise-orm native migration files (bot/migrations/) serves SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.errors import EXIT_SCHEMA, Unavailable

APP_LABEL = "models"
MIGRATIONS_MODULE = "bot.migrations"


# What data migrations need from the configuration, as plain values (migration 0010 numbers
# the items approved before it with [disclosure]'s pattern); set by init() from its config,
# like the audit keys, since tortoise hands a migration nothing but the connection.
_migration_settings: dict[str, Any] = {}


def migration_settings() -> dict[str, Any]:
    """The configuration values data migrations use (empty before init)."""
    return dict(_migration_settings)


class SchemaError(Unavailable):
    """The database schema is not the one this version of Gongkai knows."""

    status_code = 503
    exit_code = EXIT_SCHEMA


def tortoise_config(config: Config) -> dict[str, Any]:
    url = config.database.url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    db = expand_db_url(url)
    if db["engine"] == "tortoise.backends.sqlite":
        path = Path(db["credentials"]["file_path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        db["engine"] = "bot.db_sqlite"
        creds = db["credentials"]
        creds.setdefault("busy_timeout", 30000)
        creds.setdefault("synchronous", "NORMAL")
    else:
        db["credentials"].setdefault("minsize", 1)
        db["credentials"].setdefault("maxsize", 10)
        db["credentials"]["reset"] = keep_session
    return {
        "connections": {"default": db},
        "apps": tortoise_config_apps(),
        "use_tz": True,
        "timezone": "UTC",
    }


async def keep_session(conn: Any) -> None:
    """What the asyncpg pool does to a connection given back, beyond rolling back a transaction
    left open (the pool always does that): nothing. Its default sends `SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`, one more round trip for every
    query tortoise runs outside a transaction, to undo session state this application never
    leaves behind: its advisory locks are transaction-scoped, cursors live inside
    transactions, LISTEN has a connection of its own (bot/outbox/wakeup.py) and nothing runs SET."""


def listen_params(config: Config) -> dict[str, Any] | None:
    """asyncpg.connect() arguments for a LISTEN connection of its own (PostgreSQL), else None."""
    if not config.database.is_postgres:
        return None
    params = tortoise_config(config)["connections"]["default"]["credentials"]
    keys = ("host", "port", "user", "password", "database")
    return {k: params[k] for k in keys if params.get(k) is not None}


def connection() -> BaseDBAsyncClient:
    return connections.get("default")


def is_postgres() -> bool:
    return connection().capabilities.dialect == "postgres"


@asynccontextmanager
async def snapshot() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction whose reads all see the database at one moment, for a page built from
    several queries (a comment and its replies must not straddle another process's commit).
    PostgreSQL: REPEATABLE READ, read only (one snapshot, no lock). SQLite: the transaction's
    write lock (bot/db_sqlite.py) keeps other writers out until it ends, a few milliseconds."""
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn


async def init(config: Config, *, check_schema: bool = True) -> None:
    """Connect; refuse a schema with unapplied or unknown migrations unless told not to check."""
    await Tortoise.init(config=tortoise_config(config))
    audit.use_keys(*config.audit_keys())
    _migration_settings.clear()
    _migration_settings.update(
        index_pattern=config.disclosure.index_pattern,
        office_code=config.disclosure.office_code,
        timezone=config.app.timezone,
    )
    if check_schema:
        try:
            await check_schema_current()
        except SchemaError:
            await close()
            raise


async def close() -> None:
    await Tortoise.close_connections()
    # tortoise caches SQL per (connection name, table), not per dialect: a later init on
    # another backend in this process (the test suite does it) must not reuse it.
    EXECUTOR_CACHE.clear()


async def _migration_state() -> tuple[list[str], list[str]]:
    """(pending migrations on disk, applied migrations this code does not know)."""
    executor = MigrationExecutor(connection(), tortoise_config_apps())
    plan = await executor.plan()  # builds the loader's graph: disk and applied migrations
    pending = [f"{s.migration.app_label}.{s.migration.name}" for s in plan if not s.backward]
    known = set(executor.loader.disk_migrations)
    unknown = [
        f"{k.app_label}.{k.name}" for k in executor.loader.applied_migrations if k not in known
    ]
    return pending, sorted(unknown)


def tortoise_config_apps() -> dict[str, dict[str, Any]]:
    return {
        APP_LABEL: {
            "models": ["bot.models"],
            "migrations": MIGRATIONS_MODULE,
            "default_connection": "default",
        }
    }


async def check_schema_current() -> None:
    pending, unknown = await _migration_state()
    if unknown:
        raise SchemaError(
            "数据库结构比本程序新（未知迁移："
            + ", ".join(unknown)
            + "）。请升级 Gongkai 后再启动。"
        )
    if pending:
        raise SchemaError(
            "数据库结构未更新（待执行迁移："
            + ", ".join(pending)
            + "）。请先运行 `gongkai db upgrade`。"
        )


async def upgrade() -> list[str]:
    """Apply pending migrations; return the names applied."""
    conn = connection()
    executor = MigrationExecutor(conn, tortoise_config_apps())
    plan = await executor.plan()
    names = [f"{s.migration.app_label}.{s.migration.name}" for s in plan if not s.backward]
    try:
        await executor.migrate()
    except Exception as exc:  # a migration that fails must say so, not print a traceback
        raise SchemaError(
            f"数据库迁移失败：{exc}。失败的迁移没有记录为已执行；请保留数据库并联系开发人员。"
        ) from exc
    return names


def sql(query: str) -> str:
    """Write queries with ? placeholders; PostgreSQL gets $1, $2, …"""
    if not is_postgres():
        return query
    return _numbered(query)


@functools.lru_cache(maxsize=512)
def _numbered(query: str) -> str:
    # Cached: the hot statements (a batch INSERT per callback burst) recur with few shapes.
    parts = query.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))
