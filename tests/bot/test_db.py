"""Migrations on SQLite and PostgreSQL, and the refusal to start on an unknown schema."""

from __future__ import annotations

import pytest

from bot import db
from bot.models import Item
from tests.conftest import make_config


async def test_fresh_database_is_refused_until_upgraded(sqlite_url: str) -> None:
    config = make_config(sqlite_url)
    with pytest.raises(db.SchemaError, match="gongkai db upgrade"):
        await db.init(config)
    await db.init(config, check_schema=False)
    try:
        assert await db.upgrade() == ["models.0001_initial"]
        await db.check_schema_current()
        assert await db.upgrade() == []
    finally:
        await db.close()
    await db.init(config)  # now accepted
    await db.close()


async def test_database_from_a_newer_version_is_refused(sqlite_url: str) -> None:
    config = make_config(sqlite_url)
    await db.init(config, check_schema=False)
    try:
        await db.upgrade()
        await db.connection().execute_query(
            "INSERT INTO tortoise_migrations (app, name, applied_at) VALUES "
            "('models', '0099_from_the_future', '2030-01-01 00:00:00+00:00')"
        )
        with pytest.raises(db.SchemaError, match="0099_from_the_future"):
            await db.check_schema_current()
    finally:
        await db.close()


@pytest.mark.postgres
async def test_migrations_apply_on_postgresql(pg_url: str) -> None:
    config = make_config(pg_url)
    await db.init(config, check_schema=False)
    try:
        assert await db.upgrade() == ["models.0001_initial"]
        await db.check_schema_current()
        assert await Item.all().count() == 0
    finally:
        await db.close()
