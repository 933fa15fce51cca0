"""审计日志: the hash-chained audit log, searched by actor, action, target and date range
(dates in the configured zone), paginated, with the chain's verification status on top. For
the auditor only (三员分立): an admin reads it when also an auditor, or when `[staff]
separate_duties = false` merges the duties."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from bot import audit
from bot.models import AuditEvent, Role
from bot.web.console.core import PREFIX, Ctx, Pager, Route

AUDITOR = (Role.AUDITOR,)


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def audit_log(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    f = {
        name: q.get(name, "").strip()[:128]
        for name in ("actor", "action", "target", "since", "until")
    }
    errors = []
    qs = AuditEvent.all()
    if f["actor"]:
        qs = qs.filter(actor__icontains=f["actor"])
    if f["action"]:
        qs = qs.filter(action__icontains=f["action"])
    if f["target"]:
        kind, sep, ident = f["target"].partition(":")
        qs = qs.filter(target_type=kind, target_id=ident) if sep else qs.filter(target_id=kind)
    tz = ctx.state.tz
    for name, op in (("since", "at__gte"), ("until", "at__lt")):
        day = _date(f[name])
        if f[name] and day is None:
            errors.append(f"日期「{f[name]}」格式不正确，应为 年-月-日。")
        elif day is not None:
            if name == "until":
                day += timedelta(days=1)  # the end date is included
            start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            qs = qs.filter(**{op: start})
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, await qs.count())
    events = await qs.order_by("-id").offset(pager.offset).limit(pager.size)
    return await ctx.render(
        "console/audit.html",
        events=events,
        pager=pager,
        f=f,
        errors=errors,
        verify=await audit.verify(),
        details=lambda e: json.dumps(e.details, ensure_ascii=False),
    )


ROUTES = [Route("GET", f"{PREFIX}/audit", audit_log, AUDITOR)]
