"""Several web processes follow one site: two `gongkai run --role web` processes over one
database serve an item once it is published and stop serving it once it is retracted (410,
gone from every feed format); on PostgreSQL through NOTIFY alone (their polling is set to an
hour), on SQLite through polling. A follower whose LISTEN connection is cut reconnects and
resynchronises fully."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import feedparser
import pytest
from tortoise.transactions import in_transaction

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.outbox.channel_set import retract_support
from bot.site import version
from bot.site.cache import SiteCache
from bot.site.follow import Follower
from tests.conftest import PG_URL, Staff, create_staff, free_port, make_config
from tests.processes import gongkai
from tests.waiting import wait_until
from tests.web.conftest import run_dispatcher

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("atom", "rss", "json")


def web_config(path: Path, db_url: str, port: int, poll: float) -> Path:
    path.write_text(
        f"""
[database]
url = "{db_url}"

[web]
port = {port}

[web.public]
follow_poll_seconds = {poll}

[review]
check_links = false
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def site_db(backend_url: str) -> AsyncIterator[tuple[Config, Staff]]:
    config = make_config(backend_url, review={"check_links": False})
    await db.init(config, check_schema=False)
    await db.upgrade()
    try:
        yield config, await create_staff()
    finally:
        await db.close()


async def serves(
    http: aiohttp.ClientSession, base: str, item_id: int, wanted: tuple[int, tuple[bool, ...]]
) -> bool:
    """Whether the process at base answers (the item page's status, for each feed format
    whether the item is in it) as wanted."""
    async with http.get(f"{base}/items/{item_id}") as resp:
        status = resp.status
    listed = []
    for fmt in FORMATS:
        async with http.get(f"{base}/feeds/all.{fmt}") as resp:
            body = await resp.read()
        link = f"/items/{item_id}"
        if fmt == "json":
            listed.append(any(link in i["url"] for i in json.loads(body)["items"]))
        else:
            listed.append(any(link in e.link for e in feedparser.parse(body).entries))
    return (status, tuple(listed)) == wanted


@pytest.mark.slow
async def test_two_web_processes_follow_publication_and_retraction(
    site_db: tuple[Config, Staff], backend_url: str, tmp_path: Path
) -> None:
    config, staff = site_db
    # PostgreSQL: only NOTIFY can bring the change within the test. SQLite: polling does.
    poll = 3600 if backend_url.startswith("postgres") else 0.1
    ports = [free_port(), free_port()]
    procs = []
    for n, port in enumerate(ports):
        config_file = web_config(tmp_path / f"w{n}.toml", backend_url, port, poll)
        procs.append(await gongkai(config_file, tmp_path / f"w{n}.log", "run", "--role", "web"))
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with aiohttp.ClientSession() as http:

            async def up(base: str) -> bool:
                try:
                    async with http.get(f"{base}/feeds/all.atom") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            for n, base in enumerate(bases):
                await wait_until(lambda b=base: up(b), 30, f"web process {n} to serve")
            data = ItemCreate.model_validate(
                {
                    "kind": "notice",
                    "title": "关于网站改版的通知",
                    "body": "正文",
                    "office": "办公室",
                }
            )
            item = await lifecycle.create_item(data, staff.editor, config)
            await lifecycle.submit(item.id, staff.editor, config)
            await lifecycle.approve(item.id, staff.reviewer, config)
            await run_dispatcher(config)
            shown = (200, (True, True, True))
            for base in bases:
                await wait_until(
                    lambda b=base: serves(http, b, item.id, shown), 10, f"{base} shows it"
                )
            await lifecycle.retract(item.id, staff.reviewer, "信息有误", retract_support(config))
            await run_dispatcher(config)
            gone = (410, (False, False, False))
            for base in bases:
                await wait_until(
                    lambda b=base: serves(http, b, item.id, gone), 10, f"{base} drops it"
                )
        for proc in procs:
            assert proc.returncode is None, "a web process died"
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 20)


@pytest.mark.postgres
async def test_a_follower_whose_listener_is_cut_reconnects_and_resynchronises(
    pg_config: Config,
) -> None:
    cache = SiteCache(1 << 20)
    follower = Follower(cache, 3600, db.listen_params(pg_config))
    task = asyncio.create_task(follower.run())
    try:
        await wait_until(lambda: follower.resyncs == 1, 10, "the follower to listen")
        database = pg_config.database.url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND query LIKE 'LISTEN%'",
                database,
            )
        finally:
            await admin.close()
        assert cut == 1
        await wait_until(lambda: follower.resyncs == 2, 10, "the follower to resynchronise")
        # And it follows again: a change announced now reaches it without polling.
        async with in_transaction() as conn:
            await version.announce(conn)
        committed = await version.current()
        await wait_until(lambda: follower.seen == committed, 10, "the follower to see it")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
