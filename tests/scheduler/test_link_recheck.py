"""The nightly link re-check (scheduler/link_recheck.py, job links.recheck): links that worked
at publication and broke since — a 404 and a redirect to a 404, served over real HTTP on
127.0.0.1 — are found in the published version of a published item, reported in the job's
result, a Markdown file and one alert naming item, link and problem, once per night however
many processes' schedulers tick."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config
from bot.items import lifecycle
from bot.models import JobSlot
from bot.outbox.channel_set import retract_support
from scheduler.jobs import build_scheduler, run_job, stop_scheduler
from tests.conftest import create_staff
from tests.scheduler.support import config_on, context, publish, running_robot, spec
from tests.waiting import wait_until

SH = ZoneInfo("Asia/Shanghai")


class Site:
    """Another office's website: every page works until `break_links()`."""

    def __init__(self) -> None:
        self.broken = False
        self.server: TestServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def break_links(self) -> None:
        self.broken = True

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/missing":
            raise web.HTTPNotFound()
        if self.broken and path == "/gone":
            raise web.HTTPNotFound()
        if self.broken and path == "/moved":
            raise web.HTTPFound("/missing")
        return web.Response(text="ok")


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", s.handle)
    s.server = TestServer(app, host="127.0.0.1")
    await s.server.start_server()
    yield s
    await s.server.close()


def body(site: Site) -> str:
    return (
        f"详见[办事指南]({site.url('/ok')})、[政策原文]({site.url('/gone')})"
        f"和 {site.url('/moved')} 。"
    )


async def published_with_broken_links(any_config: Config, site: Site) -> tuple[int, int]:
    staff = await create_staff()
    # The test site is on 127.0.0.1 but not at public_base_url: the pre-dispatch link check
    # would refuse it as an internal address.
    config = config_on(any_config, review={"link_allow_private": True})
    item = await publish(config, staff, title="关于调整服务时间的通知", body=body(site))
    assert item.status == "published"
    # Published, then retracted: its links are no longer ours to check.
    gone = await publish(config, staff, title="已撤回的通知", body=body(site))
    await lifecycle.retract(gone.id, staff.reviewer, "内容有误", retract_support(config))
    site.break_links()
    return item.id, gone.id


async def test_recheck_reports_a_404_and_a_redirect_to_404_once_per_night(
    any_config: Config, site: Site, tmp_path: Path
) -> None:
    item_id, retracted_id = await published_with_broken_links(any_config, site)
    async with running_robot() as robot, aiohttp.ClientSession() as session:
        config = config_on(
            any_config,
            robot,
            scheduler={"reports_dir": str(tmp_path)},
            review={"link_allow_private": True},  # the test site is on 127.0.0.1
        )
        job = spec(config, "links.recheck")
        night = datetime(2025, 3, 4, 2, 5, tzinfo=SH).astimezone(UTC)
        results = await asyncio.gather(
            *(run_job(job, context(config, f"p{i}", session), night) for i in range(3))
        )
        done = [r for r in results if r is not None]
        assert len(done) == 1
        result = done[0]
        broken = {b["url"]: b for b in result["broken"]}
        assert set(broken) == {site.url("/gone"), site.url("/moved")}
        assert {b["item_id"] for b in broken.values()} == {item_id}
        assert all("HTTP 404" in b["message"] for b in broken.values())
        assert result["items"] == 1 and result["links"] == 3
        slot = await JobSlot.get(job="links.recheck")
        assert slot.slot == "2025-03-04" and slot.result["broken"] == result["broken"]
        (alert,) = robot.messages
        assert "错链断链" in alert and f"#{item_id}《关于调整服务时间的通知》" in alert
        assert site.url("/gone") in alert and "HTTP 404" in alert
        assert f"#{retracted_id}" not in alert
        report = (tmp_path / "linkcheck-2025-03-04.md").read_text(encoding="utf-8")
        assert site.url("/moved") in report and "发现问题 2 个" in report
        # Later the same night: done. Before 02:00 the next night: not due yet.
        assert None is await run_job(
            job, context(config, "p1", session), night + timedelta(hours=3)
        )
        assert None is await run_job(
            job, context(config, "p1", session), night + timedelta(hours=23, minutes=50)
        )
        assert await JobSlot.filter(job="links.recheck").count() == 1
        assert len(robot.messages) == 1


async def test_three_schedulers_run_the_nights_recheck_once(any_config: Config, site: Site) -> None:
    await published_with_broken_links(any_config, site)
    async with running_robot() as robot, aiohttp.ClientSession() as session:
        config = config_on(any_config, robot, review={"link_allow_private": True})
        # Due from midnight, ticking every 0.2 s: every scheduler finds the night due.
        job = dataclasses.replace(spec(config, "links.recheck"), at="00:00", tick=0.2)
        contexts = [context(config, f"p{i}", session) for i in range(3)]
        schedulers = [build_scheduler(ctx, [job]) for ctx in contexts]
        for s in schedulers:
            s.start()
        try:
            await wait_until(
                lambda: JobSlot.filter(job="links.recheck", finished_at__isnull=False).exists(),
                10,
                "the night's recheck to finish",
            )
            await asyncio.sleep(0.6)  # more ticks of every scheduler after the run: none runs it
        finally:  # the runs in progress finish before the counts
            for s, ctx in zip(schedulers, contexts, strict=True):
                await stop_scheduler(s, ctx, grace=5)
        rows = await JobSlot.filter(job="links.recheck")
        assert len(rows) == 1 and len(rows[0].result["broken"]) == 2
        assert len(robot.messages) == 1
