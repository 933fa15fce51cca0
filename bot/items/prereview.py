"""Build the pre-review context for an item (linked items, channel limits, settings, today),
run moderation.review on its snapshot, and save the findings (save_findings: the one writer of
Finding rows a review produces). The one place bot/ calls into moderation/'s review."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.config import Config
from bot.models import Finding, Item, Kind
from bot.outbox.channel_set import build_channels
from moderation.findings import (
    ChannelRules,
    FindingData,
    LinkCheck,
    LinkedItem,
    ReviewContext,
    ReviewSettings,
)
from moderation.review import review


def settings(config: Config) -> ReviewSettings:
    r = config.review
    return ReviewSettings(
        permit_penalty_days=r.permit_penalty_days,
        other_enforcement_days=r.other_enforcement_days,
        formal_copy_share=r.formal_copy_share,
        sensitive_words=tuple(r.sensitive_words),
        wrong_terms=tuple(r.wrong_terms.items()),
        typos=tuple(r.typos.items()),
        allowed_words=tuple(r.allowed_words),
    )


def _linked(item: Item) -> LinkedItem:
    return LinkedItem(
        id=item.id,
        kind=item.kind,
        title=item.title,
        body=item.body,
        status=item.status,
        disclosure=item.disclosure,
        published_at=item.published_at,
    )


async def context_for(
    snap: dict[str, Any],
    config: Config,
    channels: list[str],
    conn: BaseDBAsyncClient | None = None,
    check_links: LinkCheck | None = None,
) -> ReviewContext:
    """The ReviewContext of a snapshot bound for `channels`."""
    related = None
    if snap.get("related_id"):
        query = Item.filter(id=snap["related_id"])
        row = await (query.using_db(conn) if conn else query).first()
        related = _linked(row) if row else None
    interpretations: tuple[LinkedItem, ...] = ()
    if snap.get("kind") == Kind.POLICY.value and snap.get("id"):
        query = Item.filter(related_id=snap["id"], kind=Kind.INTERPRETATION.value)
        rows = await (query.using_db(conn) if conn else query)
        interpretations = tuple(_linked(r) for r in rows)
    built = build_channels(config)
    return _context(
        config,
        channels=tuple(channels),
        channel_rules={
            name: ChannelRules(
                ch.label,
                ch.limits.title_max,
                ch.limits.summary_max,
                ch.limits.body_max,
                ch.limits.image_max,
            )
            for name, ch in built.items()
        },
        related=related,
        interpretations=interpretations,
        check_links=check_links,
    )


def _context(config: Config, **parts: Any) -> ReviewContext:
    """A ReviewContext with what comes from the configuration and today's date."""
    return ReviewContext(
        public_channels=frozenset(config.channels.enabled_names()),
        columns={key: tuple(col.kinds) for key, col in config.columns.items()},
        today=datetime.now(ZoneInfo(config.app.timezone)).date(),
        settings=settings(config),
        **parts,
    )


async def run(
    snap: dict[str, Any],
    config: Config,
    channels: list[str],
    conn: BaseDBAsyncClient | None = None,
    check_links: LinkCheck | None = None,
) -> list[FindingData]:
    """Pre-review a snapshot; links are checked only when a check is given."""
    return await review(snap, await context_for(snap, config, channels, conn, check_links))


# A plain notice: reviewing it once builds what every review uses.
_WARM_UP: dict[str, Any] = {
    "kind": Kind.NOTICE.value,
    "title": "关于开展政务公开日活动的通知",
    "summary": "",
    "body": "活动安排如下。",
    "column": "",
    "doc_number": "",
    "office": "办公室",
    "disclosure": "proactive",
    "withheld_basis": "",
    "related_id": None,
    "interpretation_forms": [],
    "enforcement": None,
    "channels": [],
    "id": None,
    "version": 1,
}


async def warm_up(config: Config) -> None:
    """Build the rules' dictionaries and automata now (half a second of CPU or more) rather
    than in the first item's review after a start, where a publication would wait for it.
    No channel is built for it: a web process may lack a channel's credentials."""
    await review(dict(_WARM_UP), _context(config, channels=()))


async def save_findings(
    conn: BaseDBAsyncClient, item_id: int, version: int, stage: str, findings: list[FindingData]
) -> None:
    """Replace the findings of one review stage (submit, edit, dispatch…) of an item version
    with these, every field kept (span and overridable included), in the caller's transaction."""
    await Finding.filter(item_id=item_id, item_version=version, stage=stage).using_db(conn).delete()
    if not findings:
        return
    await Finding.bulk_create(
        [
            Finding(
                item_id=item_id,
                item_version=version,
                stage=stage,
                rule=f.rule,
                severity=f.severity,
                field=f.field,
                message=f.message,
                span_start=f.span[0] if f.span else None,
                span_end=f.span[1] if f.span else None,
                suggestion=f.suggestion,
                overridable=f.overridable,
            )
            for f in findings
        ],
        using_db=conn,
    )
