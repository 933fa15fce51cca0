"""The 索引号 of an item: given once, in the transaction of its first approval, from the
[disclosure] pattern and a counter per scope that only goes up (gk_index_counter), so two
processes approving at once never share a number and a retracted item's number is never given
again. The rest of the 主动公开目录 metadata (成文日期, 主题分类, 发布机构) is item content,
checked by bot/items/lifecycle.py and shown by the public item page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import db
from bot.config import Config
from bot.models import IndexCounter, Item

COUNTER_TABLE = IndexCounter._meta.db_table


async def next_seq(conn: BaseDBAsyncClient, scope: str) -> int:
    """The scope's next sequence number, in the caller's transaction. One upsert: the row is
    created at 1 or incremented, and its lock (PostgreSQL; SQLite's write lock) is held until
    commit, so a concurrent approval in the same scope waits and then gets the number after."""
    rows = await conn.execute_query_dict(
        db.sql(
            f"INSERT INTO {COUNTER_TABLE} (scope, value) VALUES (?, 1) "
            f"ON CONFLICT (scope) DO UPDATE SET value = {COUNTER_TABLE}.value + 1 "
            "RETURNING value"
        ),
        [scope],
    )
    return int(rows[0]["value"])


async def assign_index_no(
    conn: BaseDBAsyncClient, item: Item, config: Config, approved_at: datetime
) -> str | None:
    """Give the item its 索引号 if it has none yet (its first approval), in the approving
    transaction; returns the number given, or None when it already had one (kept for good:
    a new version, a retraction change nothing)."""
    if item.index_no:
        return None
    disclosure = config.disclosure
    year = approved_at.astimezone(ZoneInfo(config.app.timezone)).year
    scope = disclosure.index_scope(year)
    while True:
        number = disclosure.index_number(year, await next_seq(conn, scope))
        # Another pattern or office code once wrote the same text: pass over that number.
        if not await Item.filter(index_no=number).using_db(conn).exists():
            break
    await Item.filter(id=item.id).using_db(conn).update(index_no=number)
    item.index_no = number
    return number
