"""Wake the dispatcher when the outbox changes, without polling the database.

In a process, lifecycle callers notify() directly. Across processes: PostgreSQL delivers the
NOTIFY that approvals send at commit (LISTEN on its own connection); with SQLite, every process
is on one machine, so a change of the database files' size or mtime (a cheap stat, no query)
is the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)
CHANNEL = "gongkai_outbox"


class Wakeup:
    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events.append(event)
        return event

    def notify(self) -> None:
        for event in self._events:
            event.set()


@contextlib.asynccontextmanager
async def listen_postgres(wakeup: Wakeup, dsn_params: dict) -> AsyncIterator[None]:
    import asyncpg

    conn = await asyncpg.connect(**dsn_params)
    await conn.add_listener(CHANNEL, lambda *_: wakeup.notify())
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


async def watch_sqlite_files(wakeup: Wakeup, db_path: Path, interval: float = 0.5) -> None:
    """Notify when the database or its WAL changes (another process wrote)."""
    files = [db_path, db_path.with_name(db_path.name + "-wal")]

    def signature() -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for f in files:
            try:
                st = os.stat(f)
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    last = signature()
    while True:
        await asyncio.sleep(interval)
        now = signature()
        if now != last:
            last = now
            wakeup.notify()
