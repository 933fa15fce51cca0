"""The item editor (new and edit, fields by kind, Markdown body with a live preview through a
server endpoint that uses the feed's renderer, 预览 without JavaScript too) and the item page
(findings with the offending text highlighted, deliveries, and the review actions)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.errors import Refusal
from bot.items import lifecycle, prereview
from bot.items.lifecycle import ALLOWED, InvalidItem
from bot.items.media import human_size
from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    DISCLOSURE_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    VALIDITY_LABELS,
    Delivery,
    Item,
    ItemStatus,
    Kind,
    Role,
    User,
)
from bot.reports.labels import channel_label
from bot.web.console import itemform
from bot.web.console.core import ALL_STAFF, PREFIX, Ctx, Route
from bot.web.console.findings_view import live_findings, shown_findings
from bot.web.console.item_flow import submit_flashed
from bot.web.console.labels import Names
from bot.web.keys import LINKS

EDITOR = (Role.EDITOR,)
PREVIEW_MAX = 500_000
RELATED_CHOICES = 200


async def _policies() -> list[Item]:
    return (
        await Item.filter(kind=Kind.POLICY.value)
        .exclude(status=ItemStatus.RETRACTED.value)
        .order_by("-id")
        .limit(RELATED_CHOICES)
    )


async def _form_page(
    ctx: Ctx,
    values: dict[str, Any],
    item: Item | None = None,
    errors: dict[str, str] | None = None,
    preview: Markup | None = None,
    status: int = 200,
) -> web.Response:
    return await ctx.render(
        "console/item_form.html",
        http_status=status,
        v=values,
        item=item,
        errors=errors or {},
        preview=preview,
        kinds=KIND_LABELS,
        kind_label=KIND_LABELS.get(Kind(values["kind"]), values["kind"])
        if values["kind"] in Kind._value2member_map_
        else "",
        disclosures=DISCLOSURE_LABELS,
        columns=ctx.config.columns,
        channels=[(n, channel_label(n)) for n in ctx.config.channels.enabled_names()],
        forms=itemform.FORMS,
        enforcement_fields=itemform.FIELDS,
        categories=itemform.CATEGORIES,
        target_types=itemform.TARGET_TYPES,
        policies=await _policies(),
        wechat_title_max=ctx.config.channels.wechat.title_max,
        topics=ctx.config.disclosure.topics,
        default_publisher=ctx.config.publisher(),
    )


def _preview(ctx: Ctx, body: str) -> Markup:
    # The feed's renderer: CommonMark with raw HTML off, so the output is safe to show.
    return Markup(ctx.renderer.body_html(body[:PREVIEW_MAX]))


async def new_form(ctx: Ctx) -> web.StreamResponse:
    kind = ctx.request.query.get("kind", "")
    related = ctx.request.query.get("related_id", "")
    if kind not in Kind._value2member_map_:
        return await ctx.render(
            "console/item_new.html",
            kinds=KIND_LABELS,
            word_max=human_size(ctx.config.web.media.word.max_bytes),  # 从 Word 导入 (word_page)
        )
    values = itemform.blank(kind, int(related) if related.isdigit() and len(related) < 10 else None)
    values["publisher"] = ctx.config.publisher()
    return await _form_page(ctx, values)


def _field_error(exc: Refusal) -> dict[str, str]:
    return {exc.field or "_": str(exc)} if isinstance(exc, InvalidItem) else {"_": str(exc)}


async def create(ctx: Ctx) -> web.StreamResponse:
    form = await ctx.form()
    parsed = itemform.parse(form, ctx.state.tz)
    action = form.get("action", "save")
    if action == "preview":
        return await _form_page(ctx, parsed.values, preview=_preview(ctx, parsed.values["body"]))
    data = itemform.to_create(parsed)
    if data is None or not parsed.ok:
        return await _form_page(ctx, parsed.values, errors=parsed.errors, status=422)
    try:
        item = await lifecycle.create_item(data, ctx.actor, ctx.config, ctx.request.app[LINKS])
    except Refusal as exc:
        return await _form_page(
            ctx, parsed.values, errors=_field_error(exc), status=exc.status_code
        )
    await ctx.draft_saved(form)
    await ctx.flash("ok", f"已创建稿件 #{item.id}。")
    if action == "submit":
        await submit_flashed(ctx, item.id)
    raise ctx.redirect(f"{PREFIX}/items/{item.id}")


async def _load(ctx: Ctx) -> Item:
    item = await Item.filter(id=ctx.int_param("id")).first()
    if item is None:
        raise web.HTTPNotFound()
    return item


async def edit_form(ctx: Ctx) -> web.StreamResponse:
    item = await _load(ctx)
    return await _form_page(ctx, itemform.from_item(item, ctx.state.tz), item)


async def save(ctx: Ctx) -> web.StreamResponse:
    item = await _load(ctx)
    form = await ctx.form()
    parsed = itemform.parse(form, ctx.state.tz)
    parsed.values["kind"] = item.kind  # the kind of an item is fixed once it exists
    action = form.get("action", "save")
    if action == "preview":
        preview = _preview(ctx, parsed.values["body"])
        return await _form_page(ctx, parsed.values, item, preview=preview)
    patch = itemform.to_patch(parsed, item, ctx.config.publisher())
    if patch is None or not parsed.ok:
        return await _form_page(ctx, parsed.values, item, errors=parsed.errors, status=422)
    try:
        if patch.model_fields_set:
            item = await lifecycle.edit_item(
                item.id, patch, ctx.actor, ctx.config, ctx.request.app[LINKS]
            )
        if parsed.publish_at != item.publish_at:
            await lifecycle.schedule(item.id, ctx.actor, parsed.publish_at)
    except Refusal as exc:
        return await _form_page(
            ctx, parsed.values, item, errors=_field_error(exc), status=exc.status_code
        )
    await ctx.draft_saved(form)
    changed = bool(patch.model_fields_set)
    await ctx.flash("ok" if changed else "info", "已保存修改。" if changed else "内容没有变化。")
    if action == "submit":
        await submit_flashed(ctx, item.id)
    raise ctx.redirect(f"{PREFIX}/items/{item.id}")


async def preview(ctx: Ctx) -> web.StreamResponse:
    """The Markdown body rendered as the feed renders it (for the editor's live preview)."""
    form = await ctx.form()
    body = form.get("body", "")
    html = _preview(ctx, body if isinstance(body, str) else "")
    return web.Response(text=str(html), content_type="text/html", charset="utf-8")


async def findings_while_writing(ctx: Ctx) -> web.StreamResponse:
    """Pre-review of the editor's form as typed, stored nowhere: the findings as an HTML
    fragment for the editor (static/console/editor.js). Links are checked on save only."""
    form = await ctx.form()
    parsed = itemform.parse(form, ctx.state.tz)
    raw = ctx.request.query.get("item", "")
    item = await Item.filter(id=int(raw)).first() if raw.isdigit() and len(raw) < 10 else None
    kind = item.kind if item is not None else parsed.values["kind"]
    if kind not in Kind._value2member_map_:
        raise web.HTTPBadRequest(text=f"稿件类型「{kind}」不存在。")
    snap = itemform.unsaved_snapshot(parsed, item)
    channels = parsed.values["channels"] or ctx.config.channels.enabled_names()
    findings = await prereview.run(snap, ctx.config, channels)
    html = ctx.state.env.get_template("console/findings_live.html").render(
        findings=live_findings(findings, snap)
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def _package_of(item: Item, related: Item | None, interpretations: list[Item]) -> int | None:
    """The policy whose package page decides this item (三同步): a policy with interpretations,
    or the policy of an interpretation that may not be approved before it; else None."""
    if item.kind == Kind.POLICY.value and interpretations:
        return item.id
    if item.kind == Kind.INTERPRETATION.value and related and lifecycle.waits_for(related):
        return related.id
    return None


async def view(ctx: Ctx) -> web.StreamResponse:
    item = await _load(ctx)
    related = await Item.filter(id=item.related_id).first() if item.related_id else None
    interpretations = (
        await Item.filter(related_id=item.id, kind=Kind.INTERPRETATION.value).order_by("id")
        if item.kind == Kind.POLICY.value
        else []
    )
    deliveries = await Delivery.filter(item_id=item.id).order_by(
        "-item_version", "action", "channel"
    )
    author = await User.filter(id=item.author_id).first()
    status = ItemStatus(item.status)
    contributors = await lifecycle.contributors(item.id, item.version)
    findings = await shown_findings(item)
    who = await Names.load(
        actors=[c.actor for c in contributors] + [s.finding.overridden_by for s in findings]
    )
    return await ctx.render(
        "console/item.html",
        item=item,
        author=author,
        related=related,
        interpretations=interpretations,
        findings=findings,
        who=who,
        deliveries=deliveries,
        channel_label=channel_label,
        body_html=_preview(ctx, item.body),
        kinds=KIND_LABELS,
        status_labels=STATUS_LABELS,
        disclosures=DISCLOSURE_LABELS,
        validity_labels=VALIDITY_LABELS,
        delivery_labels=DELIVERY_STATUS_LABELS,
        action_labels=DELIVERY_ACTION_LABELS,
        enforcement_fields=itemform.FIELDS,
        columns=ctx.config.columns,
        may={name: status in states for name, states in ALLOWED.items()},
        targets=lifecycle.target_channels(item, ctx.config),
        contributors=contributors,
        default_publisher=ctx.config.publisher(),
        contribution_labels=lifecycle.CONTRIBUTION_LABELS,
        package=_package_of(item, related, interpretations),
        # The two-person rule: no 批准 or override form for who wrote this version.
        may_review=lifecycle.may_review(ctx.actor, item, contributors),
    )


ROUTES = [
    Route("GET", f"{PREFIX}/items/new", new_form, EDITOR),
    Route("POST", f"{PREFIX}/items", create, EDITOR),
    Route("POST", f"{PREFIX}/preview", preview, EDITOR),
    Route("POST", f"{PREFIX}/prereview", findings_while_writing, EDITOR),
    Route("GET", f"{PREFIX}/items/{{id}}", view, ALL_STAFF),
    Route("GET", f"{PREFIX}/items/{{id}}/edit", edit_form, EDITOR),
    Route("POST", f"{PREFIX}/items/{{id}}", save, EDITOR),
]
