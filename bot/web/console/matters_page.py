"""办事事项 (every staff role): the listed matters with their messages of the last 30 days, the
trend against the 30 days before, the 好差评 and the open 专项回应 task, and the messages no
listed matter fits grouped as suggested new matters; one matter's page with its daily trend,
its newest messages and ratings and its tasks. Texts are masked as the inbox shows them; a
moderator can open each comment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.matters.figures import hot_matters, suggestions, trend_days
from bot.matters.matching import METHOD_LABELS
from bot.matters.ratings import GRADE_LABELS
from bot.matters.tasks import REASON_LABELS
from bot.models import (
    COMMENT_STATUS_LABELS,
    MATTER_TASK_STATUS_LABELS,
    Comment,
    CommentStatus,
    MatterComment,
    MatterTask,
    Role,
    ServiceRating,
)
from bot.reports.labels import channel_label
from bot.web.console import charts
from bot.web.console.core import PREFIX, Ctx, Route

SHOWN = 20  # newest messages and ratings on a matter's page


def _status(labels: Mapping[Any, str], raw: str) -> str:
    return next((label for key, label in labels.items() if str(key) == raw), raw)


async def matters_list(ctx: Ctx) -> web.StreamResponse:
    now = ctx.state.clock()
    hot = await hot_matters(ctx.config, now)
    return await ctx.render(
        "console/matters.html",
        hot=hot,
        suggested=await suggestions(ctx.config, now),
        configured=bool(ctx.config.matters),
        rating_days=ctx.config.hot_matters.tasks.rating_days,
        group_days=ctx.config.hot_matters.group_days,
        can_open_comments=ctx.has(Role.MODERATOR),
    )


async def matter_page(ctx: Ctx) -> web.StreamResponse:
    key = ctx.request.match_info["key"]
    now = ctx.state.clock()
    found = next((f for f in await hot_matters(ctx.config, now) if f.matter.key == key), None)
    if found is None:
        raise web.HTTPNotFound(text=f"办事事项「{key[:48]}」未在配置中列出。")
    today = now.astimezone(ctx.state.tz).date()
    labels = [d.strftime("%m-%d") for d in trend_days(today)]
    placed = (
        await MatterComment.filter(matter=key)
        .order_by("-comment_id")
        .limit(SHOWN)
        .values_list("comment_id", "method")
    )
    methods = {int(c): str(m) for c, m in placed}
    comments = (
        await Comment.filter(id__in=list(methods))
        .exclude(status=CommentStatus.SPAM.value)
        .order_by("-received_at")
    )
    ratings = await ServiceRating.filter(matter=key).order_by("-rated_at").limit(SHOWN)
    tasks = await MatterTask.filter(matter=key).order_by("-id").limit(SHOWN)
    return await ctx.render(
        "console/matter.html",
        f=found,
        m=found.matter,
        trend_chart=charts.bar_chart(
            f"「{found.matter.name}」近 30 天每日诉求件数",
            labels,
            [charts.Series("诉求", found.daily)],
        ),
        day_labels=labels,
        comments=comments,
        methods=methods,
        method_labels=METHOD_LABELS,
        ratings=ratings,
        grade_labels=GRADE_LABELS,
        tasks=tasks,
        reason_labels=REASON_LABELS,
        task_status=lambda raw: _status(MATTER_TASK_STATUS_LABELS, raw),
        comment_status=lambda raw: _status(COMMENT_STATUS_LABELS, raw),
        channel_label=channel_label,
        rating_days=ctx.config.hot_matters.tasks.rating_days,
        can_open_comments=ctx.has(Role.MODERATOR),
    )


ROUTES = [
    Route("GET", f"{PREFIX}/matters", matters_list),
    Route("GET", f"{PREFIX}/matters/{{key}}", matter_page),
]
