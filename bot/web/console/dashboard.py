"""数据看板 (every staff role): 多元化解读率 against the 60% target, the on-time reply rate and
median first reply of the year so far, items published per channel per week (last 12 weeks),
each channel's freshness, dead deliveries, overdue comments, WeChat followers per day and the
words the website's search found nothing for (检索无结果的词, masked: bot/search/misses.py).

Every figure is a SQL aggregate (COUNT / MAX / GROUP BY in the database), never a Python loop
over all rows. Charts are server-rendered SVG (charts.py) with the same numbers beside them.

Freshness (两周未更新 fails the national inspection of government new media) is
bot/reports/freshness.py's model, the daily alert's too: red at [scheduler]
freshness_alarm_days (14) or more (or never published), amber from freshness_warn_days (10),
green below.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot import db
from bot.db import sql
from bot.inbox.metrics import inbox_metrics
from bot.matters.figures import dashboard_panel
from bot.models import Comment, CommentStatus, Delivery, DeliveryAction, DeliveryStatus
from bot.reports.followers import follower_counts
from bot.reports.freshness import channel_freshness
from bot.reports.labels import channel_label
from bot.reports.stats import DIVERSIFIED_TARGET, interpretation_rate
from bot.reports.wechat_figures import wechat_figures
from bot.search import misses
from bot.web.console import charts
from bot.web.console.core import PREFIX, Ctx, Route

WEEKS = 12
FOLLOWER_DAYS = 30
MISS_DAYS, MISS_TOP = 30, 10  # 检索无结果的词: the most frequent, over these days
TABLE = Delivery._meta.db_table


def _week_expr(tz: ZoneInfo) -> str:
    """The Shanghai-local Monday of finished_at's week, as a SQL expression."""
    if db.is_postgres():
        return f"CAST(date_trunc('week', finished_at AT TIME ZONE '{tz.key}') AS DATE)"
    # SQLite has no zones: shift by the zone's offset (Asia/Shanghai has no DST); 'weekday 0'
    # moves to the coming Sunday (or stays on one), '-6 days' back to that week's Monday.
    offset = datetime.now(tz).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"date(finished_at, '{minutes:+d} minutes', 'weekday 0', '-6 days')"


async def weekly_posts(first_monday: date, weeks: int, tz: ZoneInfo) -> dict[str, list[int]]:
    """Completed publications per channel per Shanghai week from first_monday on."""
    since = datetime.combine(first_monday, time(), tz).astimezone(UTC)
    week = _week_expr(tz)
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT channel, {week} AS wk, COUNT(*) AS n FROM {TABLE} "
            "WHERE status = ? AND action = ? AND finished_at >= ? GROUP BY channel, wk"
        ),
        [DeliveryStatus.DONE.value, DeliveryAction.PUBLISH.value, since],
    )
    out: dict[str, list[int]] = {}
    for r in rows:
        index = (date.fromisoformat(str(r["wk"])[:10]) - first_monday).days // 7
        if 0 <= index < weeks:
            out.setdefault(str(r["channel"]), [0] * weeks)[index] += int(r["n"])
    return out


def duration_text(hours: float | None) -> str:
    """A time to first reply as staff read it: minutes under an hour, else hours."""
    if hours is None:
        return "—"
    if hours < 1:
        minutes = round(hours * 60)
        return "不到 1 分钟" if minutes < 1 else f"{minutes} 分钟"
    return f"{hours:.1f} 小时"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


async def dashboard(ctx: Ctx) -> web.StreamResponse:
    tz = ctx.state.tz
    now = datetime.now(UTC)
    today = now.astimezone(tz).date()
    year_start = today.replace(month=1, day=1)
    rate = await interpretation_rate(year_start, today, ctx.config.app.timezone)
    metrics = await inbox_metrics(
        ctx.config, datetime.combine(year_start, time(), tz).astimezone(UTC), None, now
    )
    first_monday = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    weekly = await weekly_posts(first_monday, WEEKS, tz)
    week_labels = [(first_monday + timedelta(weeks=i)).strftime("%m-%d") for i in range(WEEKS)]
    weekly_series = [
        charts.Series(channel_label(name), values) for name, values in sorted(weekly.items())
    ]
    followers = await follower_counts(
        today - timedelta(days=FOLLOWER_DAYS - 1), today, ctx.config.app.timezone
    )
    # WeChat's own figures (datacube, stored daily) when there are any; otherwise the
    # subscribe events the callback stored.
    wechat = await wechat_figures(today - timedelta(days=FOLLOWER_DAYS), today)
    if wechat.followers:
        followers = wechat.followers
    day_labels = [f.day.strftime("%m-%d") for f in followers]
    overdue = await Comment.filter(status=CommentStatus.OPEN.value, due_at__lt=now).count()
    dead = await Delivery.filter(status=DeliveryStatus.DEAD.value).count()
    median = metrics.median_first_reply_hours
    return await ctx.render(
        "console/dashboard.html",
        today=today,
        year_start=year_start,
        rate=rate,
        target=DIVERSIFIED_TARGET,
        rate_text=_pct(rate.rate),
        rate_meter=charts.meter(
            f"多元化解读率 {_pct(rate.rate)}，目标 {DIVERSIFIED_TARGET:.0%}",
            rate.rate,
            DIVERSIFIED_TARGET,
        ),
        metrics=metrics,
        on_time_text=_pct(metrics.on_time_rate),
        on_time_meter=charts.meter(
            f"按时答复率 {_pct(metrics.on_time_rate)}", metrics.on_time_rate
        ),
        median_text=duration_text(median),
        pct=_pct,
        week_labels=week_labels,
        weekly_series=weekly_series,
        weekly_chart=charts.bar_chart(
            f"近 {WEEKS} 周各渠道发布条数（按周一所在周，上海时间）",
            week_labels,
            weekly_series,
        ),
        weekly_total=sum(sum(s.values) for s in weekly_series),
        freshness=await channel_freshness(ctx.config, today),
        overdue=overdue,
        dead=dead,
        followers=followers,
        followers_chart=charts.line_chart(
            f"近 {FOLLOWER_DAYS} 天微信公众号每日新关注与取消关注人数",
            day_labels,
            [
                charts.Series("新关注", [f.subscribed for f in followers]),
                charts.Series("取消关注", [f.unsubscribed for f in followers]),
            ],
        ),
        followers_in=sum(f.subscribed for f in followers),
        followers_out=sum(f.unsubscribed for f in followers),
        wechat=wechat,
        channel_label=channel_label,
        stale_red=ctx.config.scheduler.freshness_alarm_days,
        stale_amber=ctx.config.scheduler.freshness_warn_days,
        matters=await dashboard_panel(ctx.config, now),  # 集中诉求与专项回应
        misses=await misses.top(today - timedelta(days=MISS_DAYS - 1), MISS_TOP),
        miss_days=MISS_DAYS,
        miss_top=MISS_TOP,
    )


ROUTES = [Route("GET", f"{PREFIX}/dashboard", dashboard)]
