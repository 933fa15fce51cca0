"""Lookup indexes of migration 0007 at scale (PostgreSQL): the WeChat relay's sweep batch over
unhandled channel events, and the auto-reply note lookup of 100 comments, timed on a database
with --events stored events (a fifth as many comments, each with a note), with the indexes and
again after dropping them.

Run: .venv/bin/python benchmarks/lookup_indexes.py [--events 500000] (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatch import database  # benchmarks/dispatch.py, next to this file

SWEEP = (
    "SELECT id FROM gk_channel_event WHERE channel = 'wechat' AND kind = 'message' "
    "AND handled_at IS NULL AND id > 0 ORDER BY id LIMIT 100"
)
NOTES = "SELECT comment_id FROM gk_comment_note WHERE comment_id = ANY($1::int[]) AND author = 'x'"


async def fill(conn: asyncpg.Connection, events: int) -> None:
    await conn.execute(
        "INSERT INTO gk_channel_event (channel, key, kind, payload, at, handled_at) "
        "SELECT 'wechat', 'msg:' || g, 'message', '{\"text\": \"x\"}', now(), "
        "CASE WHEN g > $1 - 100 THEN NULL ELSE now() END FROM generate_series(1, $1) g",
        events,
    )
    await conn.execute(
        "INSERT INTO gk_comment (channel, remote_id, author_ref, kind, original_text, "
        "masked_text, category, simple, office, status, received_at, reply, reply_status, "
        "selected, created_at) SELECT 'wechat', 'msg:' || g, 'a', 'message', 't', 't', "
        "'question', false, '', 'new', now(), '', '', false, now() FROM generate_series(1, $1) g",
        events // 5,
    )
    await conn.execute(
        "INSERT INTO gk_comment_note (author, text, created_at, comment_id) "
        "SELECT 'x', 'n', now(), g FROM generate_series(1, $1) g",
        events // 5,
    )
    await conn.execute("ANALYZE")


async def timed(conn: asyncpg.Connection, query: str, *args: object) -> float:
    for _ in range(3):
        await conn.fetch(query, *args)
    start = time.perf_counter()
    for _ in range(20):
        await conn.fetch(query, *args)
    return (time.perf_counter() - start) / 20 * 1000


async def run(args: argparse.Namespace) -> None:
    from bot import db
    from bot.config import parse_config

    async with database("postgres", args.pg_url) as url:
        await db.init(parse_config({"database": {"url": url}}, "bench"), check_schema=False)
        await db.upgrade()
        await db.close()
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await fill(conn, args.events)
            ids = list(range(1000, 1100))
            after = (await timed(conn, SWEEP), await timed(conn, NOTES, ids))
            await conn.execute("DROP INDEX gk_channel_event_unhandled")
            for row in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'gk_comment_note' "
                "AND indexname <> 'gk_comment_note_pkey'"
            ):
                await conn.execute(f'DROP INDEX "{row[0]}"')
            await conn.execute("ANALYZE")
            before = (await timed(conn, SWEEP), await timed(conn, NOTES, ids))
        finally:
            await conn.close()
    print(f"{args.events:,} events, {args.events // 5:,} comments with a note each:")
    print(f"  relay sweep batch: {before[0]:.2f} ms without the index, {after[0]:.2f} ms with it")
    print(f"  notes of 100 comments: {before[1]:.2f} ms without the index, {after[1]:.2f} ms with")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--events", type=int, default=500_000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
