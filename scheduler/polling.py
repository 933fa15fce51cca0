"""Comment polling: for each channel that can poll, fetch the pages of comments since the
stored cursor, ingest them, and store the new cursor in ChannelState
(key f"{channel}.comments.cursor") with a compare-and-set on its version.

The cursor is saved after the page is ingested: a crash in between re-fetches the page, and
ingestion's (channel, remote id) deduplication stores it once.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.inbox.ingest import Inbox
from bot.models import ChannelState
from channels.base import Channel

log = logging.getLogger(__name__)
MAX_PAGES = 20


def cursor_key(channel: str) -> str:
    return f"{channel}.comments.cursor"


async def poll_channel(inbox: Inbox, name: str, channel: Channel) -> dict[str, Any]:
    """Poll one channel until it has nothing new (at most MAX_PAGES pages a run)."""
    key = cursor_key(name)
    fetched = created = pages = 0
    for _ in range(MAX_PAGES):
        state = await ChannelState.filter(key=key).first()
        cursor = dict(state.value) if state else {}
        page = await channel.poll_comments(cursor)
        pages += 1
        if page.comments:
            done = await inbox.ingest_many(page.comments)
            fetched += len(done)
            created += sum(1 for d in done if d.created)
        if not await _save_cursor(key, state, page.cursor):
            log.warning("%s: cursor moved by another process; stopping this run", key)
            break
        if not page.comments or page.cursor == cursor:
            break
    return {"channel": name, "pages": pages, "fetched": fetched, "created": created}


async def _save_cursor(key: str, state: ChannelState | None, cursor: dict[str, Any]) -> bool:
    if state is None:
        try:
            await ChannelState.create(key=key, value=cursor, version=1)
        except IntegrityError:
            return False
        return True
    count = await ChannelState.filter(key=key, version=state.version).update(
        value=cursor, version=state.version + 1
    )
    return count == 1


async def poll_all(inbox: Inbox, channels: dict[str, Channel]) -> dict[str, Any]:
    results = {}
    for name, channel in channels.items():
        if not channel.can_poll_comments:
            continue
        try:
            results[name] = await poll_channel(inbox, name, channel)
        except Exception as exc:  # one failing channel must not stop the others
            log.exception("polling comments of %s failed", name)
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results
