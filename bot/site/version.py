"""The site version: a counter every change of the public site increments, in the transaction
that makes the change (announce), so that a web process that reads a newer version knows its
built pages are stale. On PostgreSQL the same transaction sends NOTIFY gongkai_site, delivered
at commit, so processes learn of it at once (bot/site/follow.py); elsewhere they poll the row.

Also the site epoch: when the templates and configuration that shape the public bytes last
changed (a start with a different fingerprint moves it). Last-Modified is never earlier than
it, so a client asking If-Modified-Since after a template change gets the new bytes.

What announces: bot/outbox/store.py (a feed delivery finished: an item appears, changes or
leaves), bot/items/lifecycle.py (retraction, validity), bot/inbox/qa.py (选登 and withdrawal).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import db
from bot.config import Config
from bot.models import ChannelState

CHANNEL = "gongkai_site"
# The channel whose finished deliveries make what the public site shows (channels/feed.py).
PUBLIC_CHANNEL = "feed"
VERSION_KEY = "site.version"
EPOCH_KEY = "site.epoch"
TABLE = ChannelState._meta.db_table


async def announce(conn: BaseDBAsyncClient) -> None:
    """The public site changes in this transaction: bump the version (created on first use)
    and, on PostgreSQL, notify the web processes at commit."""
    now = datetime.now(UTC)
    await conn.execute_query(
        db.sql(
            f"INSERT INTO {TABLE} (key, value, version, lock_owner, updated_at) "
            "VALUES (?, '{}', 1, '', ?) ON CONFLICT (key) DO UPDATE SET "
            f"version = {TABLE}.version + 1, updated_at = excluded.updated_at"
        ),
        [VERSION_KEY, now],
    )
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"NOTIFY {CHANNEL}")


async def current() -> int:
    """The site version as committed now (0 before the first change)."""
    row = await ChannelState.filter(key=VERSION_KEY).only("version").first()
    return row.version if row is not None else 0


def fingerprint(config: Config, templates: Path) -> str:
    """What the public bytes depend on besides the data: every template and the parts of the
    configuration the public pages show (not, say, the port, which differs between processes)."""
    shown = (
        config.app,
        config.site,
        config.channels.feed,
        config.columns,
        config.disclosure,
        config.inbox.form,
        config.web.public,
    )
    digest = hashlib.sha256()
    for part in shown:
        dumped = part.model_dump_json() if hasattr(part, "model_dump_json") else repr(part)
        digest.update(dumped.encode() + b"\0")
    for path in sorted(templates.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(templates)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


async def epoch(config: Config, templates: Path) -> datetime:
    """When the current fingerprint was first seen (recorded now if it is new)."""
    mark = fingerprint(config, templates)
    row = await ChannelState.filter(key=EPOCH_KEY).first()
    if row is not None and row.value.get("fingerprint") == mark and row.value.get("since"):
        return datetime.fromisoformat(str(row.value["since"]))
    now = datetime.now(UTC).replace(microsecond=0)
    value = {"fingerprint": mark, "since": now.isoformat()}
    await ChannelState.update_or_create(defaults={"value": value}, key=EPOCH_KEY)
    return now
