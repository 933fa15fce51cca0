"""The sources job (sources.pull): an upstream feed on 127.0.0.1 is pulled once per slot
however many processes tick, and not again until its interval_minutes has passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config
from bot.models import Item, JobSlot
from scheduler.jobs import job_specs, run_job
from tests.scheduler.support import config_on, context, spec

FEED = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom"><title>上游</title><id>urn:up</id>'
    "<updated>2026-03-01T00:00:00Z</updated>"
    "<entry><id>urn:doc:1</id><title>关于调整办事大厅服务时间的通知</title>"
    '<link href="https://upstream.example.cn/docs/1.html"/>'
    "<updated>2026-03-01T00:00:00Z</updated>"
    '<content type="html">&lt;p&gt;即日起办事大厅服务时间调整为工作日九时至十七时。&lt;/p&gt;'
    "</content></entry></feed>"
)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[TestServer, list[str]]]:
    hits: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text=FEED, content_type="application/atom+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, hits
    await server.close()


async def test_sources_job_pulls_once_per_slot_and_only_when_due(
    any_config: Config, upstream: tuple[TestServer, list[str]]
) -> None:
    server, hits = upstream
    assert "sources.pull" not in {s.name for s in job_specs(any_config)}  # no sources
    source = {
        "name": "upstream",
        "url": str(server.make_url("/feed.xml")),
        "approver": "上海市行政规范性文件库",
        "interval_minutes": 60,
    }
    config = config_on(any_config, sources=[source], review={"check_links": False})
    job = spec(config, "sources.pull")
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        runs = await asyncio.gather(
            *(run_job(job, context(config, f"p{i}", session), now) for i in range(3))
        )
        (pulled,) = [r for r in runs if r is not None]
        assert pulled["pulled"]["upstream"]["new"] == 1 and hits == ["/feed.xml"]
        assert await Item.filter(source__startswith="upstream:").count() == 1
        # The next slot: the source's hour has not passed, so nothing is fetched.
        later = now + timedelta(seconds=job.seconds)
        assert await run_job(job, context(config, "p1", session), later) == {"pulled": {}}
    assert hits == ["/feed.xml"]
    assert await JobSlot.filter(job="sources.pull").count() == 2
