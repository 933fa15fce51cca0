"""Review actions from the item page (submit, approve, 退文, override a warning, retract), each
through bot.items.lifecycle with its errors shown in Chinese, and the item's history: versions, a
diff between any two, and the audit trail."""

from __future__ import annotations

import difflib
import json
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from bot.errors import Refusal
from bot.items import lifecycle, retraction
from bot.models import AuditEvent, Delivery, Finding, Item, ItemVersion, Role
from bot.outbox.channel_set import retract_support
from bot.reports.labels import channel_label
from bot.web.console import confirm
from bot.web.console.audit_text import Teller, needed
from bot.web.console.confirm import Confirmation
from bot.web.console.core import PREFIX, Ctx, Pager, Route, safe_next
from bot.web.console.findings_view import FIELD_LABELS
from bot.web.console.item_flow import submit_flashed
from bot.web.console.labels import Names
from bot.web.keys import WAKEUP

REVIEWER = (Role.REVIEWER,)
EDITOR = (Role.EDITOR,)
REASON_MAX = 2000
DIFF_FIELDS = (
    "title",
    "summary",
    "doc_number",
    "office",
    "column",
    "disclosure",
    "related_id",
    "interpretation_forms",
    "enforcement",
    "channels",
    "written_on",
    "topic",
    "publisher",
)
# Fields a version snapshotted before migration 0010 lacks: shown empty, not as null.
LATER_FIELDS = frozenset({"written_on", "topic", "publisher"})


def _back(item_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/items/{item_id}")


async def _reason(ctx: Ctx) -> str:
    value = (await ctx.form()).get("reason", "")
    return value.strip()[:REASON_MAX] if isinstance(value, str) else ""


async def submit(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    await submit_flashed(ctx, item_id)
    raise _back(item_id)


async def approve(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    try:
        await lifecycle.approve(item_id, ctx.actor, ctx.config)
    except lifecycle.NotTogether as exc:  # decided on the package's page, with its policy
        await ctx.flash("error", str(exc))
        raise web.HTTPSeeOther(f"{PREFIX}/items/{exc.policy_id}/package") from exc
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise _back(item_id) from exc
    ctx.request.app[WAKEUP].notify()
    await ctx.flash("ok", "已批准，各渠道的投递已生成。")
    raise _back(item_id)


async def return_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    try:
        await lifecycle.return_item(item_id, ctx.actor, await _reason(ctx))
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise _back(item_id) from exc
    await ctx.flash("ok", "已退文。")
    raise _back(item_id)


async def retract(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    support = retract_support(ctx.config)
    if not await confirm.confirmed(ctx):
        try:
            plan = await retraction.plan(item_id, ctx.actor, await _reason(ctx), support)
        except Refusal as exc:
            await ctx.flash("error", str(exc))
            raise _back(item_id) from exc
        return await confirm.ask(ctx, retract_confirmation(plan, await _reason(ctx), ctx))
    try:
        outcome = await lifecycle.retract(item_id, ctx.actor, await _reason(ctx), support)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise _back(item_id) from exc
    ctx.request.app[WAKEUP].notify()
    cannot = outcome.cannot_retract
    message = (
        "已撤稿。"
        if not cannot
        else f"已撤稿；以下渠道不支持撤稿，须人工删除：{'、'.join(map(channel_label, cannot))}。"
    )
    await ctx.flash("ok", message)
    raise _back(item_id)


def retract_confirmation(plan: retraction.RetractPlan, reason: str, ctx: Ctx) -> Confirmation:
    """撤稿 named: the channels it is on (with when it was published there), those that must be
    cleaned up by hand, the publications not yet sent that are cancelled."""
    local = ctx.state.env.filters["local"]
    states = {"running": "发布中，结果未定", "unconfirmed": "发布结果未确认"}
    on = "、".join(
        f"{channel_label(r.channel)}（"
        + (f"已发布 {local(r.published_at)}" if r.published_at else states.get(r.status, "已发布"))
        + "）"
        for r in plan.reached
    )
    title = plan.item.title
    if plan.reached:
        consequence = f"将从以下渠道撤下《{title}》：{on}；已撤下的内容无法恢复。"
    else:
        consequence = f"《{title}》尚未在任何渠道发布；撤稿后它不再发布，也无法恢复。"
    notes = []
    if plan.cannot_retract:
        names = "、".join(channel_label(c) for c in plan.cannot_retract)
        notes.append(f"以下渠道不支持自动撤稿，确认后须到渠道后台人工删除：{names}。")
    if plan.cancelled:
        names = "、".join(channel_label(c) for c in plan.cancelled)
        notes.append(f"尚未发出的投递将取消：{names}。")
    notes.append("撤稿后稿件状态为「已撤稿」，不能再修改或重新发布；如需重新公开，请新建稿件。")
    return Confirmation(
        title=f"确认撤稿：《{title}》",
        consequence=consequence,
        button="确认撤稿",
        back=f"{PREFIX}/items/{plan.item.id}",
        facts=[("撤稿理由", reason)],
        notes=notes,
        danger=True,
    )


async def override(ctx: Ctx) -> web.StreamResponse:
    finding = await Finding.filter(id=ctx.int_param("id")).first()
    if finding is None:
        raise web.HTTPNotFound()
    form = await ctx.form()
    nxt = form.get("next")
    back = web.HTTPSeeOther(safe_next(nxt)) if isinstance(nxt, str) else _back(finding.item_id)
    try:
        await lifecycle.override_finding(finding.id, ctx.actor, await _reason(ctx))
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise back from exc
    await ctx.flash("ok", f"已确认预审提示：{finding.message}")
    raise back


def _lines(snap: dict[str, Any]) -> list[str]:
    """A snapshot as text lines for the diff: one line per field, then the body."""
    out = []
    for name in DIFF_FIELDS:
        value = snap.get(name) if name not in LATER_FIELDS else snap.get(name) or ""
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append(f"{FIELD_LABELS.get(name, name)}：{shown}")
    out.append("正文：")
    out.extend(str(snap.get("body") or "").splitlines())
    return out


def diff_lines(old: dict[str, Any], new: dict[str, Any], a: str, b: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs; the template escapes every line."""
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), a, b, n=3, lineterm=""):
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else "ctx"
        )
        out.append((kind, line))
    return out


def _pick(raw: str, choices: dict[str, dict[str, Any]], fallback: str) -> str:
    return raw if raw in choices else fallback


async def history(ctx: Ctx) -> web.StreamResponse:
    item = await Item.filter(id=ctx.int_param("id")).first()
    if item is None:
        raise web.HTTPNotFound()
    versions = await ItemVersion.filter(item_id=item.id).order_by("-version")
    snaps: dict[str, dict[str, Any]] = {str(v.version): v.snapshot for v in versions}
    snaps["current"] = lifecycle.snapshot(item)
    keys = [str(v.version) for v in versions]
    default_b = "current"
    default_a = keys[0] if keys else "current"
    a = _pick(ctx.request.query.get("a", ""), snaps, default_a)
    b = _pick(ctx.request.query.get("b", ""), snaps, default_b)
    label = {"current": "当前稿", **{k: f"第 {k} 版" for k in keys}}
    diff = diff_lines(snaps[a], snaps[b], label[a], label[b])
    delivery_ids = [
        str(i) for i in await Delivery.filter(item_id=item.id).values_list("id", flat=True)
    ]
    trail = AuditEvent.filter(
        Q(target_type="item", target_id=str(item.id))
        | Q(target_type="delivery", target_id__in=delivery_ids or ["-"])
    )
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, await trail.count())
    events = await trail.order_by("-id").offset(pager.offset).limit(pager.size)
    wanted = needed(events)
    wanted["actors"] |= {v.created_by for v in versions} | {v.approved_by for v in versions}
    names = await Names.load(**wanted)
    linkable = {"item"} | ({"comment"} if ctx.has(Role.MODERATOR) else set())
    teller = Teller(names, ctx.state.tz, linkable | ({"user"} if ctx.has(Role.ADMIN) else set()))
    return await ctx.render(
        "console/history.html",
        item=item,
        versions=versions,
        choices=[("current", "当前稿"), *((k, label[k]) for k in keys)],
        a=a,
        b=b,
        diff=diff,
        told=[teller.tell(e) for e in events],
        who=names,
        pager=pager,
    )


ROUTES = [
    Route("POST", f"{PREFIX}/items/{{id}}/submit", submit, EDITOR),
    Route("POST", f"{PREFIX}/items/{{id}}/approve", approve, REVIEWER),
    Route("POST", f"{PREFIX}/items/{{id}}/return", return_item, REVIEWER),
    Route("POST", f"{PREFIX}/items/{{id}}/retract", retract, REVIEWER),
    Route("POST", f"{PREFIX}/findings/{{id}}/override", override, REVIEWER),
    Route("GET", f"{PREFIX}/items/{{id}}/history", history),
]
