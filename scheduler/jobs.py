"""The periodic jobs, defined in one place, and their APScheduler wiring.

APScheduler 3.11's AsyncIOScheduler (in-memory job store) runs in every worker process; it only
starts work. A job marked once_per_slot first takes its (job, slot) row in JobSlot
(scheduler/slots.py), so several processes never run it twice for the same slot. Interval
triggers start at the Unix epoch, so every process fires at the same aligned times and computes
the same slot. A daily job (`at` set: HH:MM in app.timezone) ticks every
`scheduler.daily_tick_seconds`, and its slot is the local date once its time has come, so it
runs once a day even when no process was up at that exact time. A weekly job (`weekday` set
too) does the same with the local ISO week as its slot (matters.tasks, the 专项回应 scan).
The knowledge refresh and the category model check (inbox.model) run in every process: each
holds its own copy of the knowledge base and of the model; the nightly retraining
(inbox.retrain) runs once for the deployment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import db
from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.matters import tasks as matter_tasks
from bot.matters.assign import place_comments
from bot.models import Comment, JobSlot
from bot.sources.pull import pull_all
from bot.wechat import stats as wechat_stats
from bot.wechat.mass_send import run_mass_send
from channels.base import Channel
from channels.wechat.channel import WechatChannel
from scheduler import digest, freshness, link_recheck, polling, retention, sla, token_refresh
from scheduler.alerts import Alerter
from scheduler.slots import run_once_per_slot, slot_of

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = 24 * 3600
# How long runs cancelled at the end of a shutdown get to record that they were interrupted.
CANCELLED_RUNS_SECONDS = 2.0


@dataclass
class JobContext:
    """What a job run needs, passed in (no global state). `now` is set for each run."""

    config: Config
    inbox: Inbox
    channels: dict[str, Channel]
    alerter: Alerter
    owner: str
    session: aiohttp.ClientSession | None = None  # the worker's one client session
    now: datetime | None = None
    # The runs in progress in this process (shared by every per-run copy): a shutdown lets
    # them finish before the scheduler cancels what is left.
    running: set[asyncio.Task[Any]] = dataclasses.field(default_factory=set)

    async def wait_running(self, grace: float) -> int:
        """Wait up to `grace` seconds for the runs in progress; how many were still running."""
        if not self.running:
            return 0
        _, pending = await asyncio.wait(set(self.running), timeout=max(grace, 0.001))
        return len(pending)

    @property
    def at(self) -> datetime:
        return self.now or datetime.now(UTC)


Work = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    seconds: float  # how often a run is due (a daily job: one day)
    once_per_slot: bool
    work: Work
    at: str | None = None  # daily at HH:MM (app.timezone); None: every `seconds`
    tick: float = 0  # how often the trigger fires; 0: every `seconds`
    weekday: int = 0  # with `at`: weekly, from that weekday (1 Monday … 7 Sunday) at `at`


def weekly_slot(now: datetime, weekday: int, at: str, timezone: str) -> str | None:
    """The local ISO week ("2026-W05") once its `weekday` (1 Monday … 7 Sunday) at `at` has
    come; None before it."""
    local = now.astimezone(ZoneInfo(timezone))
    hour, minute = (int(p) for p in at.split(":"))
    year, week, day = local.isocalendar()
    if (day, local.time()) < (weekday, time(hour, minute)):
        return None
    return f"{year}-W{week:02d}"


def daily_slot(now: datetime, at: str, timezone: str) -> str | None:
    """The local date once the day's time `at` has come; None before it."""
    local = now.astimezone(ZoneInfo(timezone))
    hour, minute = (int(p) for p in at.split(":"))
    return local.date().isoformat() if local.time() >= time(hour, minute) else None


async def _sla(ctx: JobContext) -> dict[str, Any]:
    return (await sla.sla_sweep(ctx.config, ctx.alerter, ctx.now)).as_dict()


async def _calendar(ctx: JobContext) -> dict[str, Any]:
    return {"unknown_years": await sla.calendar_check(ctx.config, ctx.alerter, ctx.now)}


async def _poll(ctx: JobContext) -> dict[str, Any]:
    return await polling.poll_all(ctx.inbox, ctx.channels)


async def _analyze(ctx: JobContext) -> dict[str, Any]:
    """Refresh SQLite's planner statistics of the comment table. Without them SQLite answers a
    channel filter through the (channel, remote_id) key and sorts 60,000 rows (90 ms at
    100,000 comments) instead of walking the table newest first (< 1 ms). PostgreSQL's
    autovacuum keeps its own statistics."""
    if db.is_postgres():
        return {"skipped": "postgres"}
    await db.connection().execute_script(f"ANALYZE {Comment._meta.db_table}")
    return {"analyzed": Comment._meta.db_table}


async def _knowledge(ctx: JobContext) -> dict[str, Any]:
    return {"documents": await ctx.inbox.refresh_knowledge()}


async def _model(ctx: JobContext) -> dict[str, Any]:
    return {"category_model": await ctx.inbox.refresh_model()}


async def _retrain(ctx: JobContext) -> dict[str, Any]:
    """Train the category model again when labels were added or changed since the one in use
    learnt, or when the newest model was refused here (a file that does not match its row, or
    a scikit-learn upgrade: bot/inbox/learning.py); the processes pick it up at their next
    inbox.model run."""
    from bot.inbox.learning import TrainingRefused, labels_since_model, train

    await ctx.inbox.refresh_model()
    if not ctx.inbox.model.refused and not await labels_since_model():
        return {"skipped": "no new labels"}
    try:
        trained = await train(ctx.config, "系统（夜间重新训练）")
    except TrainingRefused as exc:
        log.warning("nightly retraining of the category model refused: %s", exc)
        return {"refused": str(exc)}
    await ctx.inbox.refresh_model()
    return {
        "model": trained.model.id,
        "examples": trained.model.examples,
        "accuracy": round(trained.report.accuracy, 4),
    }


async def _token(ctx: JobContext) -> dict[str, Any]:
    return await token_refresh.refresh_wechat_token(ctx.config, ctx.channels, ctx.owner)


async def _mass_send(ctx: JobContext) -> dict[str, Any]:
    outcome = await run_mass_send(ctx.config, ctx.at)
    if outcome is None:
        return {"status": "not_due"}
    return {
        "day": outcome.day.isoformat(),
        "status": outcome.status,
        "items": outcome.item_ids,
        "left_out": outcome.left_out,
        "msg_id": outcome.msg_id,
        "error": outcome.error,
    }


async def _wechat_stats(ctx: JobContext) -> dict[str, Any]:
    channel = ctx.channels.get("wechat")
    api = channel.api if isinstance(channel, WechatChannel) else None
    return (await wechat_stats.collect(ctx.config, ctx.at, api)).as_dict()


async def _sources(ctx: JobContext) -> dict[str, Any]:
    results = await pull_all(ctx.config, session=ctx.session, due_only=True)
    return {"pulled": {r.source: r.summary() for r in results}}


async def _links(ctx: JobContext) -> dict[str, Any]:
    day = ctx.at.astimezone(ZoneInfo(ctx.config.app.timezone)).date()
    if ctx.session is not None:
        return await link_recheck.recheck_links(ctx.config, ctx.session, ctx.alerter, day)
    async with aiohttp.ClientSession() as session:
        return await link_recheck.recheck_links(ctx.config, session, ctx.alerter, day)


async def _freshness(ctx: JobContext) -> dict[str, Any]:
    return await freshness.freshness_check(ctx.config, ctx.alerter, ctx.at)


async def _digest(ctx: JobContext) -> dict[str, Any]:
    return await digest.send_digest(ctx.config, ctx.alerter, ctx.at)


async def _retention(ctx: JobContext) -> dict[str, Any]:
    return await retention.retention_sweep(ctx.config, ctx.alerter, ctx.at)


async def _matters_assign(ctx: JobContext) -> dict[str, Any]:
    return (await place_comments(ctx.config, ctx.at)).as_dict()


async def _matters_tasks(ctx: JobContext) -> dict[str, Any]:
    return (await matter_tasks.scan(ctx.config, ctx.at)).as_dict()


def job_specs(config: Config) -> list[JobSpec]:
    """Every periodic job, with its interval or daily time from [inbox] and [scheduler]. Jobs
    of a part that is switched off (WeChat, sources, link checks) are not listed."""
    c, s, h = config.inbox, config.scheduler, config.hot_matters
    tick = s.daily_tick_seconds
    specs = [
        JobSpec("inbox.sla", c.sla_interval_minutes * 60, True, _sla),
        JobSpec("inbox.calendar", DAY, True, _calendar),
        JobSpec("inbox.poll", c.poll_interval_seconds, True, _poll),
        JobSpec("inbox.analyze", 6 * 3600, True, _analyze),
        JobSpec("inbox.knowledge", c.knowledge_refresh_minutes * 60, False, _knowledge),
        JobSpec("inbox.model", c.classifier.reload_seconds, False, _model),
    ]
    if c.classifier.retrain_time:
        specs.append(JobSpec("inbox.retrain", DAY, True, _retrain, c.classifier.retrain_time, tick))
    if config.channels.wechat.enabled:
        specs.append(JobSpec("wechat.token", s.token_refresh_seconds, True, _token))
        specs.append(JobSpec("wechat.mass_send", s.mass_send_seconds, True, _mass_send))
        specs.append(JobSpec("wechat.stats", DAY, True, _wechat_stats, s.wechat_stats_time, tick))
    if any(source.enabled for source in config.sources):
        specs.append(JobSpec("sources.pull", s.sources_seconds, True, _sources))
    if config.review.check_links:
        specs.append(JobSpec("links.recheck", DAY, True, _links, s.links_recheck_time, tick))
    specs += [
        JobSpec("channels.freshness", DAY, True, _freshness, s.freshness_time, tick),
        JobSpec("digest.daily", DAY, True, _digest, s.digest_time, tick),
        JobSpec("retention", DAY, True, _retention, s.retention_time, tick),
    ]
    if config.matters:
        specs.append(JobSpec("matters.assign", h.assign_minutes * 60, True, _matters_assign))
        if h.tasks.enabled:
            weekly = JobSpec("matters.tasks", 7 * DAY, True, _matters_tasks, h.tasks.time, tick)
            specs.append(dataclasses.replace(weekly, weekday=h.tasks.weekday))
    return specs


async def run_job(
    spec: JobSpec, ctx: JobContext, now: datetime | None = None
) -> dict[str, Any] | None:
    """One tick of a job; None when another process took this slot, a daily job's time has
    not come yet, or the run failed (logged with the job's name; the next tick tries again)."""
    now = now or datetime.now(UTC)
    run = dataclasses.replace(ctx, now=now)
    task = asyncio.current_task()
    if task is not None:
        ctx.running.add(task)
    try:
        if not spec.once_per_slot:
            return await spec.work(run)
        if spec.at is None:
            slot = slot_of(now, spec.seconds)
        else:
            zone = ctx.config.app.timezone
            daily = (
                weekly_slot(now, spec.weekday, spec.at, zone)
                if spec.weekday
                else daily_slot(now, spec.at, zone)
            )
            # Checked first: most ticks of a daily job find the day done, and a failed insert
            # is an error line in PostgreSQL's log.
            if daily is None or await JobSlot.filter(job=spec.name, slot=daily).exists():
                return None
            slot = daily
        return await run_once_per_slot(spec.name, slot, ctx.owner, lambda: spec.work(run))
    except Exception:
        log.exception("job %s failed", spec.name)
        return None
    finally:
        if task is not None:
            ctx.running.discard(task)


def build_scheduler(ctx: JobContext, specs: list[JobSpec]) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    for spec in specs:
        every = spec.tick or spec.seconds
        scheduler.add_job(
            run_job,
            IntervalTrigger(seconds=every, start_date=EPOCH, timezone=UTC),
            args=[spec, ctx],
            id=spec.name,
            name=spec.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every // 2)),
        )
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler, ctx: JobContext, grace: float) -> None:
    """A shutdown: no new runs; the runs in progress get `grace` seconds to finish, then the
    scheduler cancels the rest (a once-per-slot run cancelled marks its slot interrupted)."""
    scheduler.pause()
    if left := await ctx.wait_running(grace):
        log.warning("%d job runs still going after %.1f s: cancelled", left, grace)
    scheduler.shutdown(wait=False)  # cancels what is left
    await ctx.wait_running(CANCELLED_RUNS_SECONDS)
