"""One decision per package: a policy and its interpretations reviewed on one page (三同步).

Both bodies, every finding of each (with where it is and the override form), who wrote each
version, and one approval for all of them (bot.items.lifecycle.approve approves a policy with
its interpretations awaiting review, in one transaction). An interpretation's page leads here;
a refusal comes back here naming each item by its title."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup

from bot.errors import Refusal
from bot.items import lifecycle
from bot.items.lifecycle import ALLOWED
from bot.models import KIND_LABELS, STATUS_LABELS, Item, ItemContributor, ItemStatus, Kind, Role
from bot.web.console.core import ALL_STAFF, PREFIX, Ctx, Route
from bot.web.console.findings_view import ShownFinding, shown_findings
from bot.web.console.labels import Names
from bot.web.keys import WAKEUP

REVIEWER = (Role.REVIEWER,)


def package_path(policy_id: int) -> str:
    return f"{PREFIX}/items/{policy_id}/package"


@dataclass
class Member:
    """One item of the package as the page shows it."""

    item: Item
    body_html: Markup
    findings: list[ShownFinding]
    contributors: list[ItemContributor]
    may_review: bool

    @property
    def open_findings(self) -> list[ShownFinding]:
        return [s for s in self.findings if s.finding.awaits_override]

    @property
    def in_review(self) -> bool:
        return self.item.status == ItemStatus.IN_REVIEW.value


async def _policy_of(ctx: Ctx) -> Item:
    item = await Item.filter(id=ctx.int_param("id")).first()
    if item is None:
        raise web.HTTPNotFound()
    if item.kind == Kind.INTERPRETATION.value and item.related_id:
        policy = await Item.filter(id=item.related_id, kind=Kind.POLICY.value).first()
        if policy is not None:
            raise web.HTTPSeeOther(package_path(policy.id))
    if item.kind != Kind.POLICY.value:
        raise web.HTTPSeeOther(f"{PREFIX}/items/{item.id}")
    return item


async def _member(ctx: Ctx, item: Item) -> Member:
    contributors = await lifecycle.contributors(item.id, item.version)
    return Member(
        item,
        Markup(ctx.renderer.body_html(item.body)),
        await shown_findings(item),
        contributors,
        lifecycle.may_review(ctx.actor, item, contributors),
    )


async def view(ctx: Ctx) -> web.StreamResponse:
    policy = await _policy_of(ctx)
    readings = (
        await Item.filter(related_id=policy.id, kind=Kind.INTERPRETATION.value)
        .exclude(status=ItemStatus.RETRACTED.value)
        .order_by("id")
    )
    members = [await _member(ctx, one) for one in (policy, *readings)]
    head = members[0]
    going = [m for m in members[1:] if m.in_review]
    open_count = sum(len(m.open_findings) for m in (head, *going))
    approvable = ItemStatus(policy.status) in ALLOWED["approve"]
    reviewer = ctx.has(Role.REVIEWER)
    blocked_by = [m for m in (head, *going) if not m.may_review]
    who = await Names.load(
        actors=[c.actor for m in members for c in m.contributors]
        + [s.finding.overridden_by for m in members for s in m.findings]
    )
    return await ctx.render(
        "console/package.html",
        policy=policy,
        members=members,
        going=going,
        left_behind=[m for m in members[1:] if not m.in_review and m.item.status != "approved"],
        open_count=open_count,
        may_approve=reviewer and approvable and not open_count and not blocked_by,
        approvable=approvable,
        blocked_by=blocked_by,
        who=who,
        kinds=KIND_LABELS,
        status_labels=STATUS_LABELS,
        contribution_labels=lifecycle.CONTRIBUTION_LABELS,
        back=package_path(policy.id),
    )


async def approve(ctx: Ctx) -> web.StreamResponse:
    policy = await _policy_of(ctx)
    going = await Item.filter(
        related_id=policy.id, kind=Kind.INTERPRETATION.value, status=ItemStatus.IN_REVIEW.value
    ).count()
    try:
        await lifecycle.approve(policy.id, ctx.actor, ctx.config)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise web.HTTPSeeOther(package_path(policy.id)) from exc
    ctx.request.app[WAKEUP].notify()
    also = f"及其 {going} 篇政策解读" if going else ""
    await ctx.flash(
        "ok", f"已批准政策文件《{policy.title}》{also}，各渠道的投递已生成，将同步发布。"
    )
    raise web.HTTPSeeOther(package_path(policy.id))


ROUTES = [
    Route("GET", f"{PREFIX}/items/{{id}}/package", view, ALL_STAFF),
    Route("POST", f"{PREFIX}/items/{{id}}/package/approve", approve, REVIEWER),
]
