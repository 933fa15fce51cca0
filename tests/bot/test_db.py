"""Migrations on SQLite and PostgreSQL, and the refusal to start on an unknown schema."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot import db
from bot.models import Comment, Item
from tests.conftest import make_config


async def test_fresh_database_is_refused_until_upgraded(fresh_sqlite_url: str) -> None:
    config = make_config(fresh_sqlite_url)
    with pytest.raises(db.SchemaError, match="gongkai db upgrade"):
        await db.init(config)
    await db.init(config, check_schema=False)
    try:
        files = sorted(Path(db.__file__).parent.glob("migrations/0*.py"))
        assert await db.upgrade() == [f"models.{f.stem}" for f in files]
        assert len(files) >= 3
        await db.check_schema_current()
        assert await db.upgrade() == []
    finally:
        await db.close()
    await db.init(config)  # now accepted
    await db.close()


async def test_database_from_a_newer_version_is_refused(fresh_sqlite_url: str) -> None:
    config = make_config(fresh_sqlite_url)
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
        files = sorted(Path(db.__file__).parent.glob("migrations/0*.py"))
        assert await db.upgrade() == [f"models.{f.stem}" for f in files]
        assert len(files) >= 3
        await db.check_schema_current()
        assert await Item.all().count() == 0
    finally:
        await db.close()


async def test_later_migrations_apply_to_a_database_that_holds_data(fresh_backend_url: str) -> None:
    # A column added by a migration must work on tables with rows (SQLite refuses NOT NULL
    # columns without a database-level default once a table has rows).
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    from bot.items import lifecycle
    from bot.items.schemas import ItemCreate
    from tests.conftest import create_staff

    config = make_config(fresh_backend_url)
    await db.init(config, check_schema=False)
    try:
        executor = MigrationExecutor(db.connection(), db.tortoise_config_apps())
        await executor.migrate([MigrationTarget(app_label="models", name="0001_initial")])
        await db.connection().execute_script(
            "INSERT INTO gk_user (username, display_name, office, roles, password_hash, active,"
            " created_at) VALUES ('old', '', '', '[\"editor\"]', '', TRUE, CURRENT_TIMESTAMP);"
            ' INSERT INTO gk_item (kind, title, summary, body, "column", doc_number, office,'
            " disclosure, withheld_basis, interpretation_forms, enforcement, channels, version,"
            " status, author_id, source, return_reason, retraction_reason, created_at,"
            " updated_at) VALUES ('notice', '旧条目', '', '正文', 'notice', '', '', 'proactive',"
            " '', '[]', '{}', '[]', 1, 'draft', 1, '', '', '', CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP);"
            " INSERT INTO gk_finding (item_id, item_version, stage, rule, severity, field,"
            " message, suggestion, created_at) VALUES (1, 1, 'submit', 'r', 'warn', '', 'm', '',"
            " CURRENT_TIMESTAMP);"
            " INSERT INTO gk_comment (channel, remote_id, item_id, author_ref, kind,"
            " original_text, masked_text, category, simple, office, status, received_at, reply,"
            " reply_status, selected, created_at) VALUES ('feed', 'r1', 1, 'a', 'form', '旧留言',"
            " '', '', FALSE, '', 'new', CURRENT_TIMESTAMP, '', '', FALSE, CURRENT_TIMESTAMP)"
        )
        files = sorted(Path(db.__file__).parent.glob("migrations/0*.py"))
        assert await db.upgrade() == [f"models.{f.stem}" for f in files[1:]]
        old = await Comment.get(remote_id="r1")
        assert (old.original_text, old.flags, old.reply_ref, old.hidden) == (
            "旧留言",
            [],
            {},
            False,
        )
        staff = await create_staff()
        item = await lifecycle.create_item(
            ItemCreate.model_validate({"kind": "notice", "title": "通知", "body": "正文"}),
            staff.editor,
            config,
        )
        assert (await Item.get(id=item.id)).validity == ""
    finally:
        await db.close()


async def _commit_from_another_process(url: str) -> None:
    """A row committed by a connection of its own, as another Gongkai process would."""
    row = "('models', 'written-meanwhile', '2026-12-03 00:00:00+00:00')"
    statement = f"INSERT INTO tortoise_migrations (app, name, applied_at) VALUES {row}"
    if url.startswith("sqlite://"):

        def write() -> None:
            with sqlite3.connect(url.removeprefix("sqlite://"), timeout=30) as conn:
                conn.execute(statement)

        await asyncio.to_thread(write)
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def test_snapshot_reads_do_not_see_a_commit_made_in_between(backend_url: str) -> None:
    await db.init(make_config(backend_url), check_schema=False)
    count = "SELECT COUNT(*) AS n FROM tortoise_migrations"
    try:
        await db.upgrade()
        async with db.snapshot() as conn:
            before = (await conn.execute_query_dict(count))[0]["n"]
            writer = asyncio.create_task(_commit_from_another_process(backend_url))
            # PostgreSQL: the writer commits now and the snapshot does not see it; SQLite:
            # the writer waits for the snapshot's lock (it has not committed after 0.5 s).
            postgres = backend_url.startswith("postgres")
            done, _ = await asyncio.wait([writer], timeout=10 if postgres else 0.5)
            assert (writer in done) == postgres
            assert (await conn.execute_query_dict(count))[0]["n"] == before
        await writer
        after = (await db.connection().execute_query_dict(count))[0]["n"]
        assert after == before + 1
    finally:
        await db.close()
