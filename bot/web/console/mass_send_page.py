"""群发计划 (reviewers and editors): today's and tomorrow's WeChat mass send as
bot.wechat.mass_send plans it (Shanghai dates): the articles in order, what does not fit in one
message, the status, msg_id and WeChat's result. Read-only: the scheduler sends it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.models import Role
from bot.web.console.core import PREFIX, Ctx, Route
from bot.wechat.mass_send import MassSender

STATUS_LABELS = {
    "none": "尚未生成（到群发时间时按当天待群发稿件生成）",
    "planned": "已计划",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
}
RESULT_LABELS = {
    "status": "结果",
    "total_count": "目标人数",
    "sent_count": "成功人数",
    "error_count": "失败人数",
}


async def mass_send(ctx: Ctx) -> web.StreamResponse:
    today = datetime.now(UTC).astimezone(ctx.state.tz).date()
    sender = MassSender(ctx.config)
    plans = [
        ("今天", await sender.plan_for(today)),
        ("明天", await sender.plan_for(today + timedelta(days=1))),
    ]
    cfg = ctx.config.channels.wechat
    return await ctx.render(
        "console/mass_send.html",
        plans=plans,
        enabled=cfg.enabled,
        max_articles=cfg.mass_send_max_articles,
        status_labels=STATUS_LABELS,
        result_labels=RESULT_LABELS,
    )


ROUTES = [Route("GET", f"{PREFIX}/mass-send", mass_send, (Role.REVIEWER, Role.EDITOR))]
