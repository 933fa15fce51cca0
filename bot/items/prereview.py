"""Build the pre-review context for an item (linked items, channel limits, settings, today),
run moderation.review on its snapshot, and save the findings (save_findings: the one writer of
Finding rows a review produces). The one place bot/ calls into moderation/'s review."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet

from bot.config import Config
from bot.items.render import Renderer
from bot.models import Finding, Item, ItemStatus, Kind
from bot.outbox.channel_set import build_channels
from moderation.findings import (
    ChannelRules,
    FindingData,
    LinkCheck,
    LinkedItem,
    RenderedSize,
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
        official_email_domains=tuple(r.official_email_domains),
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
    rules = channel_rules(config)
    return _context(
        config,
        channels=tuple(channels),
        channel_rules=rules,
        rendered=rendered_sizes(snap, config, [n for n in channels if n in rules], rules),
        related=related,
        interpretations=interpretations,
        check_links=check_links,
    )


def channel_rules(config: Config) -> dict[str, ChannelRules]:
    """What each enabled channel accepts: its limits, and for WeChat the configured draft/add
    limits ([channels.wechat], from the current documentation) rather than the channel's."""
    rules = {
        name: ChannelRules(
            ch.label,
            ch.limits.title_max,
            ch.limits.summary_max,
            ch.limits.body_max,
            ch.limits.image_max,
        )
        for name, ch in build_channels(config).items()
    }
    if "wechat" in rules:
        w = config.channels.wechat
        rules["wechat"] = ChannelRules(
            rules["wechat"].label,
            title_max=w.title_max,
            summary_max=w.digest_max,
            # the body is limited as rendered (content_max_*), not as Markdown
            image_max=rules["wechat"].image_max,
            content_max_chars=w.content_max_chars,
            content_max_bytes=w.content_max_bytes,
            source_url_max_bytes=w.source_url_max_bytes,
            title_field="wechat_title",
            title_field_label="微信标题",
        )
    return rules


def rendered_sizes(
    snap: dict[str, Any], config: Config, channels: list[str], rules: dict[str, ChannelRules]
) -> dict[str, RenderedSize]:
    """The snapshot rendered for each channel whose limits are on the rendered content, and
    measured: the rule sees numbers, never bot/'s renderer."""
    wanted = [name for name in dict.fromkeys(channels) if rules[name].limits_content]
    if not wanted:
        return {}
    renderer = Renderer(config)
    sizes = {}
    for name in wanted:
        content = renderer.render(snap, name)
        sizes[name] = RenderedSize(
            chars=len(content.html),
            bytes=len(content.html.encode("utf-8")),
            source_url_bytes=len(content.url.encode("utf-8")),
        )
    return sizes


def _context(config: Config, **parts: Any) -> ReviewContext:
    """A ReviewContext with what comes from the configuration and today's date."""
    return ReviewContext(
        public_channels=frozenset(config.channels.enabled_names()),
        columns={key: tuple(col.kinds) for key, col in config.columns.items()},
        today=datetime.now(ZoneInfo(config.app.timezone)).date(),
        topics=tuple(config.disclosure.topics),
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
    "written_on": None,
    "topic": "",
    "publisher": "",
    "id": None,
    "version": 1,
}


async def warm_up(config: Config) -> None:
    """Build the rules' dictionaries and automata now (half a second of CPU or more) rather
    than in the first item's review after a start, where a publication would wait for it.
    No channel is built for it: a web process may lack a channel's credentials."""
    await review(dict(_WARM_UP), _context(config, channels=()))


# The stage of a draft's review: each save (and the creation) of the item is reviewed.
EDIT_STAGE = "edit"


def findings_now(item: Item) -> QuerySet[Finding]:
    """The findings that describe the item now: a draft's from its last save, anything later
    those of its submission and dispatch (the edit-time ones are superseded by submit)."""
    rows = Finding.filter(item_id=item.id, item_version=item.version)
    if item.status == ItemStatus.DRAFT.value:
        return rows.filter(stage=EDIT_STAGE).order_by("id")
    return rows.exclude(stage=EDIT_STAGE).order_by("id")


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
