"""The scheduler (scheduler/jobs.py, slots.py, polling.py): a once-per-slot job runs once per
slot however many processes tick at the same time (three runs and three real APScheduler
schedulers, on SQLite and PostgreSQL); comment polling keeps its cursor in ChannelState and
stores what it fetched once; the knowledge refresh runs in every process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.models import ChannelState, Comment, JobSlot
from channels.base import (
    Channel,
    ChannelLimits,
    CommentPage,
    Content,
    IncomingComment,
    Job,
    PermanentError,
    Published,
)
from scheduler.alerts import Alerter
from scheduler.jobs import JobContext, JobSpec, build_scheduler, job_specs, run_job, stop_scheduler
from scheduler.polling import poll_all
from tests.search.test_export import faq
from tests.waiting import wait_until

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


class PollingChannel(Channel):
    """Serves a fixed list of comments two at a time; the cursor is an offset."""

    name = "board"
    label = "留言板"
    limits = ChannelLimits(concurrency=1, rate_per_second=10)
    can_poll_comments = True

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.cursors: list[dict[str, Any]] = []

    async def publish(self, content: Content, job: Job) -> Published:
        raise PermanentError("不发布")

    async def poll_comments(self, cursor: dict[str, Any]) -> CommentPage:
        self.cursors.append(cursor)
        start = int(cursor.get("offset", 0))
        page = [
            IncomingComment("board", f"c:{i}", self.texts[i], AT, "article_comment")
            for i in range(start, min(start + 2, len(self.texts)))
        ]
        return CommentPage(page, {"offset": start + len(page)})


def context(config: Config, owner: str, channels: dict[str, Channel] | None = None) -> JobContext:
    return JobContext(config, Inbox(config), channels or {}, Alerter(config, None), owner)


async def test_three_processes_ticking_the_same_slot_run_the_job_once(any_config: Config) -> None:
    runs: list[str] = []

    async def work(ctx: JobContext) -> dict[str, Any]:
        runs.append(ctx.owner)
        await asyncio.sleep(0.02)
        return {"by": ctx.owner}

    spec = JobSpec("test.once", 60, True, work)
    now = datetime(2025, 3, 3, 2, 0, 30, tzinfo=UTC)
    results = await asyncio.gather(
        *(run_job(spec, context(any_config, f"p{i}"), now) for i in range(3))
    )
    assert len(runs) == 1 and [r for r in results if r] == [{"by": runs[0]}]
    slot = await JobSlot.get(job="test.once")
    assert slot.slot == "2025-03-03T02:00:00Z" and slot.owner == runs[0]
    assert slot.finished_at is not None and slot.result == {"by": runs[0]}
    # The next slot runs again.
    later = datetime(2025, 3, 3, 2, 1, 5, tzinfo=UTC)
    assert await run_job(spec, context(any_config, "p1"), later) == {"by": "p1"}
    assert await JobSlot.filter(job="test.once").count() == 2


async def test_three_schedulers_run_each_slot_once(any_config: Config) -> None:
    runs: list[tuple[str, datetime]] = []

    async def work(ctx: JobContext) -> dict[str, Any]:
        runs.append((ctx.owner, datetime.now(UTC)))
        return {}

    spec = JobSpec("test.tick", 1, True, work)
    contexts = [context(any_config, f"p{i}") for i in range(3)]
    schedulers = [build_scheduler(ctx, [spec]) for ctx in contexts]
    for s in schedulers:
        s.start()

    async def two_slots_run() -> bool:
        done = JobSlot.filter(job="test.tick", finished_at__isnull=False)
        return await done.count() >= 2

    try:
        await wait_until(two_slots_run, 15, "two slots of test.tick to run")
    finally:  # the runs in progress finish before the counts
        for s, ctx in zip(schedulers, contexts, strict=True):
            await stop_scheduler(s, ctx, grace=5)
    slots = await JobSlot.filter(job="test.tick").values_list("slot", flat=True)
    assert len(slots) >= 2
    assert len(slots) == len(set(slots)) == len(runs)


async def test_polling_stores_the_cursor_and_each_comment_once(any_config: Config) -> None:
    channel = PollingChannel([f"第{i}条文章留言" for i in range(5)])
    inbox = Inbox(any_config)
    result = await poll_all(inbox, {"board": channel})
    assert result["board"]["created"] == 5 and result["board"]["pages"] == 4
    state = await ChannelState.get(key="board.comments.cursor")
    assert state.value == {"offset": 5}
    assert await Comment.filter(channel="board").count() == 5
    again = await poll_all(inbox, {"board": channel})
    assert again["board"]["created"] == 0 and channel.cursors[-1] == {"offset": 5}
    # A cursor lost or reset re-fetches old pages: they are stored once all the same.
    await ChannelState.filter(key="board.comments.cursor").update(value={})
    replay = await poll_all(inbox, {"board": channel})
    assert replay["board"]["fetched"] == 5 and replay["board"]["created"] == 0
    assert await Comment.filter(channel="board").count() == 5


async def test_the_job_table_names_every_inbox_job_and_knowledge_runs_everywhere(
    config: Config,
) -> None:
    specs = {s.name: s for s in job_specs(config)}
    assert set(specs) == {
        "inbox.sla",
        "inbox.calendar",
        "inbox.poll",
        "inbox.analyze",
        "inbox.knowledge",
        "inbox.model",
        "inbox.retrain",
        # deployment jobs of [scheduler]; wechat.* and sources.pull only when those are on
        "links.recheck",
        "channels.freshness",
        "digest.daily",
        "retention",
    }
    assert specs["inbox.sla"].seconds == config.inbox.sla_interval_minutes * 60
    assert not specs["inbox.knowledge"].once_per_slot
    # Each process follows the newest category model; retraining runs once a night.
    assert not specs["inbox.model"].once_per_slot
    assert specs["inbox.retrain"].once_per_slot and specs["inbox.retrain"].at == "02:30"
    await faq("如何申请政府信息公开？", "可通过网上申请平台提交。")  # in the search index
    now = datetime(2025, 3, 3, 2, tzinfo=UTC)
    for owner in ("p1", "p2"):
        assert await run_job(specs["inbox.knowledge"], context(config, owner), now) == {
            "documents": 1
        }
    sweep = await run_job(specs["inbox.sla"], context(config, "p1"), now)
    assert sweep is not None and sweep["reminded"] == [] and sweep["escalated"] == {}
    assert await run_job(specs["inbox.sla"], context(config, "p2"), now) is None
    analyzed = await run_job(specs["inbox.analyze"], context(config, "p1"), now)
    assert analyzed == {"analyzed": "gk_comment"}


async def test_a_shutdown_lets_a_run_finish_and_marks_one_past_the_grace_interrupted(
    any_config: Config,
) -> None:
    started = {"test.quick": asyncio.Event(), "test.hung": asyncio.Event()}

    def job(name: str, seconds: float) -> JobSpec:
        async def work(ctx: JobContext) -> dict[str, Any]:
            started[name].set()
            await asyncio.sleep(seconds)
            return {"slept": seconds}

        return JobSpec(name, 3600, True, work)

    ctx = context(any_config, "p0")
    scheduler = build_scheduler(ctx, [job("test.quick", 0.3), job("test.hung", 60)])
    scheduler.start()
    for spec_id in started:  # run both now rather than at the next aligned hour
        scheduler.modify_job(spec_id, next_run_time=datetime.now(UTC))
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 5)
    await stop_scheduler(scheduler, ctx, grace=1.0)
    quick = await JobSlot.get(job="test.quick")
    assert quick.finished_at is not None and quick.result == {"slept": 0.3}
    hung = await JobSlot.get(job="test.hung")
    assert hung.finished_at is not None and hung.result == {"interrupted": "shutdown"}
    assert not ctx.running
