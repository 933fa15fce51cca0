"""Sources (inbound): pull the upstream RSS/Atom feeds named by [[sources]] in the config and
turn their entries into items that enter at `submitted` with the upstream approver recorded,
then are pre-reviewed like any item (a failing one is returned, 退文, and never published).

Feeds are fetched with aiohttp (conditional GET with the ETag / Last-Modified kept in
ChannelState f"source.{name}.http", a timeout, a size limit, limited redirects) and parsed by
feedparser from the fetched bytes. Each entry is one transaction: a SourceEntry row unique on
(source, entry key) keeps entries from being imported twice across restarts and processes; an
entry changed upstream becomes a new version of its item (lifecycle edit + submit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config, SourceConfig
from bot.errors import GongkaiError
from bot.items import lifecycle
from bot.items.itemfile import FIELD_LABELS
from bot.items.schemas import ItemCreate, ItemPatch, field_errors
from bot.models import ChannelState, Item, ItemStatus, ItemVersion, Role, SourceEntry, User
from bot.sources.fetch import SourceFetchError, fetch, parse
from bot.sources.rules import EntryError, UpstreamEntry, entry_name, item_fields, read_entry

log = logging.getLogger(__name__)

UPDATABLE = ("title", "summary", "body")  # what upstream owns; kind/column/office are ours

# progress(source name, entries done, entries in this pull)
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class EntryResult:
    entry: str  # the entry's title and link, as staff recognise it
    outcome: str  # new | updated | skipped | failed
    item_id: int | None = None
    status: str = ""  # the item's status after the pull
    reason: str = ""  # why it failed, was skipped, or was returned

    @property
    def returned(self) -> bool:
        return self.status == ItemStatus.RETURNED.value and self.outcome in ("new", "updated")


@dataclass
class PullResult:
    source: str
    http_status: int | None = None
    not_modified: bool = False
    error: str = ""  # the whole pull failed (fetch or parse)
    warning: str = ""  # the feed was malformed but readable entries were taken
    entries: list[EntryResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for e in self.entries if e.outcome == outcome)

    @property
    def returned(self) -> list[EntryResult]:
        return [e for e in self.entries if e.returned]

    def summary(self) -> dict[str, Any]:
        return {
            "status": "error" if self.error else "not_modified" if self.not_modified else "ok",
            "http_status": self.http_status,
            "new": self.count("new"),
            "updated": self.count("updated"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "returned": len(self.returned),
            "error": self.error,
            "warning": self.warning,
        }


def state_key(name: str) -> str:
    return f"source.{name}.http"


async def source_actor(source: SourceConfig) -> Actor:
    """The account items of a source are written by: an inactive account (it cannot log in)
    named source.<name>, created on first use."""
    username = f"source.{source.name}"
    user = await User.filter(username=username).first()
    if user is None:
        try:
            async with in_transaction() as conn:
                user = await User.create(
                    using_db=conn,
                    username=username,
                    roles=[Role.EDITOR.value],
                    display_name=source.approver[:128],
                    office=source.office,
                    active=False,
                )
                await audit.record(
                    conn,
                    "system:sources",
                    "user.add",
                    "user",
                    user.id,
                    {"username": username, "roles": [Role.EDITOR.value], "source": source.name},
                )
        except IntegrityError:  # another process created it first
            user = await User.get(username=username)
    # The prefix makes lifecycle record the import as such among the version's contributors.
    name = f"{lifecycle.IMPORT_ACTOR_PREFIX}{source.name}"
    return Actor(name, user.id, frozenset({Role.EDITOR.value}))


def _invalid(exc: ValidationError) -> str:
    return "；".join(
        f"{FIELD_LABELS.get(e['field'], e['field'])}：{e['message']}" for e in field_errors(exc)
    )


async def _record_upstream_approval(
    conn: Any, item: Item, source: SourceConfig, entry: UpstreamEntry, action: str, actor: Actor
) -> None:
    """The approval is the upstream's: on the submitted version, and in the audit log."""
    approved_at = entry.updated or entry.published or datetime.now(UTC)
    await (
        ItemVersion.filter(item_id=item.id, version=item.version)
        .using_db(conn)
        .update(approved_by=source.approver[:128], approved_at=approved_at)
    )
    await audit.record(
        conn,
        actor.name,
        action,
        "item",
        item.id,
        {
            "source": source.name,
            "entry_key": entry.key,
            "link": entry.link,
            "approver": source.approver,
            "upstream_approved_at": approved_at.isoformat(),
            "version": item.version,
            "status": item.status,
        },
    )


async def _create(
    source: SourceConfig, entry: UpstreamEntry, actor: Actor, config: Config
) -> EntryResult:
    try:
        data = ItemCreate.model_validate(item_fields(source, entry))
    except ValidationError as exc:
        return EntryResult(entry.label, "failed", reason=_invalid(exc))
    now = datetime.now(UTC)
    try:
        async with in_transaction() as conn:
            # First: the unique (source, entry_key) row refuses a second import at once
            row = await SourceEntry.create(
                using_db=conn,
                source=source.name,
                entry_key=entry.key,
                content_hash=entry.content_hash,
                link=entry.link[:1000],
                upstream_updated_at=entry.updated or entry.published,
                first_seen_at=now,
                last_seen_at=now,
            )
            # lifecycle's own transactions nest inside this one (savepoints): all or nothing
            item = await lifecycle.create_item(data, actor, config)
            origin = f"{source.name}:{entry.link or entry.key}"[:255]
            await Item.filter(id=item.id).using_db(conn).update(source=origin)
            outcome = await lifecycle.submit(item.id, actor, config)
            await SourceEntry.filter(id=row.id).using_db(conn).update(item_id=item.id)
            item = outcome.item
            await _record_upstream_approval(conn, item, source, entry, "item.source_import", actor)
    except IntegrityError:
        return EntryResult(entry.label, "skipped", reason="已由另一进程同时导入。")
    return EntryResult(entry.label, "new", item.id, item.status, item.return_reason)


def _dated_later(entry: UpstreamEntry, row: SourceEntry) -> bool:
    stored = row.upstream_updated_at
    if entry.updated is None or stored is None:
        return False
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    return entry.updated > stored


async def _update(
    source: SourceConfig, entry: UpstreamEntry, row: SourceEntry, actor: Actor, config: Config
) -> EntryResult:
    """An entry seen before: unchanged → skipped; changed → a new version of its item.
    Upstream owns the title, summary and body; kind, column and office stay as staff left
    them. A newer date on unchanged content changes nothing (lifecycle refuses empty edits)."""
    if entry.content_hash == row.content_hash:
        reason = "内容未变。"
        if _dated_later(entry, row):
            reason = "上游更新时间变化，但内容未变。"
            await SourceEntry.filter(id=row.id).update(upstream_updated_at=entry.updated)
        return EntryResult(entry.label, "skipped", row.item_id, reason=reason)
    item = await Item.filter(id=row.item_id).first() if row.item_id else None
    if item is None:
        return EntryResult(entry.label, "failed", reason="由此条目导入的稿件已被删除。")
    fields = item_fields(source, entry)
    changes = {k: fields[k] for k in UPDATABLE if getattr(item, k) != fields[k]}
    if item.status == ItemStatus.RETRACTED.value or not changes:
        reason = (
            f"条目 #{item.id} 已撤稿，上游的修改未导入。"
            if changes
            else "上游的修改不涉及标题、摘要和正文。"
        )
        await SourceEntry.filter(id=row.id).update(
            content_hash=entry.content_hash,
            upstream_updated_at=entry.updated or row.upstream_updated_at,
            last_seen_at=datetime.now(UTC),
        )
        return EntryResult(entry.label, "skipped", item.id, item.status, reason)
    try:
        patch = ItemPatch.model_validate(changes)
    except ValidationError as exc:
        return EntryResult(entry.label, "failed", item.id, item.status, _invalid(exc))
    async with in_transaction() as conn:
        locked = await SourceEntry.filter(id=row.id).using_db(conn).select_for_update().first()
        if locked is None or locked.content_hash != row.content_hash:
            # another process took this change while we were reading
            return EntryResult(entry.label, "skipped", item.id, item.status, "已由另一进程导入。")
        await lifecycle.edit_item(item.id, patch, actor, config)
        outcome = await lifecycle.submit(item.id, actor, config)
        await (
            SourceEntry.filter(id=row.id)
            .using_db(conn)
            .update(
                content_hash=entry.content_hash,
                link=entry.link[:1000],
                upstream_updated_at=entry.updated or entry.published,
                last_seen_at=datetime.now(UTC),
            )
        )
        item = outcome.item
        await _record_upstream_approval(conn, item, source, entry, "item.source_update", actor)
    return EntryResult(entry.label, "updated", item.id, item.status, item.return_reason)


async def _import(
    source: SourceConfig, raw: Any, actor: Actor, config: Config, seen: set[str]
) -> EntryResult:
    try:
        entry = read_entry(raw)
    except EntryError as exc:
        return EntryResult(entry_name(raw), "failed", reason=str(exc))
    if entry.key in seen:
        return EntryResult(
            entry.label, "skipped", reason="同一 guid 在订阅中重复出现，已取第一条。"
        )
    seen.add(entry.key)
    row = await SourceEntry.filter(source=source.name, entry_key=entry.key).first()
    if row is None:
        return await _create(source, entry, actor, config)
    return await _update(source, entry, row, actor, config)


async def _save_state(source: SourceConfig, state: dict[str, Any], result: PullResult) -> None:
    value = {**state, "url": source.url, "pulled_at": datetime.now(UTC).isoformat()}
    value["result"] = result.summary()
    await ChannelState.update_or_create(key=state_key(source.name), defaults={"value": value})


async def pull_source(
    config: Config,
    source: SourceConfig,
    session: aiohttp.ClientSession,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Pull one source; never raises for a bad feed or entry: the result says what happened."""
    result = PullResult(source.name)
    row = await ChannelState.filter(key=state_key(source.name)).first()
    state: dict[str, Any] = dict(row.value) if row else {}
    try:
        fetched = await fetch(session, source, state)
        result.http_status = fetched.status
        if fetched.status == 304:
            result.not_modified = True
            if progress:
                progress(source.name, 0, 0)
            await _save_state(source, state, result)
            return result
        raws, result.warning = parse(fetched, source)
    except SourceFetchError as exc:
        result.error = str(exc)
        log.warning("source %s: %s", source.name, exc)
        await _save_state(source, state, result)
        return result
    if result.warning:
        log.warning(
            "source %s: malformed feed (%s); taking the entries that parse",
            source.name,
            result.warning,
        )
    raws = raws[: source.max_entries]
    actor = await source_actor(source)
    seen: set[str] = set()
    unexpected = False
    if progress:
        progress(source.name, 0, len(raws))
    for done, raw in enumerate(raws, 1):
        try:
            entry_result = await _import(source, raw, actor, config, seen)
        except (GongkaiError, OSError, TimeoutError) as exc:
            # one failing entry never stops the others; its transaction was rolled back
            log.exception("source %s: entry %s failed", source.name, entry_name(raw))
            entry_result = EntryResult(entry_name(raw), "failed", reason=str(exc))
            unexpected = True
        except Exception as exc:
            log.exception("source %s: entry %s failed", source.name, entry_name(raw))
            entry_result = EntryResult(
                entry_name(raw), "failed", reason=f"内部错误：{type(exc).__name__}: {exc}"
            )
            unexpected = True
        result.entries.append(entry_result)
        if progress:
            progress(source.name, done, len(raws))
    if seen:  # still offered upstream (what no longer is can be told from last_seen_at)
        await SourceEntry.filter(source=source.name, entry_key__in=list(seen)).update(
            last_seen_at=datetime.now(UTC)
        )
    # Keep the validators only when every entry was dealt with: after an unexpected failure
    # the next pull must fetch the whole feed again to retry it.
    state.update(etag="", last_modified="")
    if not unexpected:
        state.update(etag=fetched.etag, last_modified=fetched.last_modified)
    await _save_state(source, state, result)
    for returned in result.returned:
        log.info(
            "source %s: item #%s returned by pre-review: %s",
            source.name,
            returned.item_id,
            returned.reason,
        )
    return result


async def last_pull(name: str) -> dict[str, Any]:
    """What the last pull of a source did (empty when never pulled)."""
    row = await ChannelState.filter(key=state_key(name)).first()
    return dict(row.value) if row else {}


def _due(source: SourceConfig, state: dict[str, Any], now: datetime) -> bool:
    pulled = state.get("pulled_at")
    if not pulled:
        return True
    return datetime.fromisoformat(pulled) + timedelta(minutes=source.interval_minutes) <= now


async def pull_all(
    config: Config,
    progress: ProgressCallback | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    names: list[str] | None = None,
    due_only: bool = False,
) -> list[PullResult]:
    """Pull every enabled source (or those named), one after another. With due_only, only
    sources whose interval_minutes has passed since their last pull (for the scheduler)."""
    sources = [s for s in config.sources if s.enabled and (names is None or s.name in names)]
    if due_only:
        now = datetime.now(UTC)
        sources = [s for s in sources if _due(s, await last_pull(s.name), now)]
    if not sources:
        return []
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        return [await pull_source(config, s, client, progress) for s in sources]
    finally:
        if own:
            await client.close()
