"""`gongkai sources pull` and `gongkai sources list` through click's CliRunner, against a real
SQLite file and an upstream feed served by a real aiohttp server on 127.0.0.1 (in its own
thread: each CLI command runs its own event loop)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.cli.test_main import Cli, write_config

WIDE = {"COLUMNS": "300"}  # rich tables at full width, so no cell is folded

FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>上游</title><id>urn:up</id>
<updated>2026-03-01T00:00:00Z</updated>
<entry><id>urn:doc:1</id><title>关于调整办事大厅服务时间的通知</title>
<link href="https://upstream.example.cn/docs/1.html"/><updated>2026-03-01T00:00:00Z</updated>
<content type="html">&lt;p&gt;即日起服务时间调整为九时至十七时。&lt;/p&gt;</content></entry>
<entry><id>urn:doc:2</id><link href="https://upstream.example.cn/docs/2.html"/>
<content type="html">&lt;p&gt;没有标题的条目。&lt;/p&gt;</content></entry>
<entry><id>urn:doc:3</id><title>内部通报</title>
<link href="https://upstream.example.cn/docs/3.html"/><updated>2026-03-01T00:00:00Z</updated>
<content type="html">&lt;p&gt;本文为内部资料，不得外传。&lt;/p&gt;</content></entry>
</feed>"""


@pytest.fixture
def feed_url() -> Iterator[str]:
    """An upstream serving FEED with an ETag, on 127.0.0.1 in a thread of its own."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, web.AppRunner | str] = {}

    async def serve(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(
            text=FEED, content_type="application/atom+xml", headers={"ETag": '"v1"'}
        )

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/feed.xml", serve)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        holder.update(runner=runner, url=f"http://127.0.0.1:{port}/feed.xml")
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(10)
    yield str(holder["url"])
    runner = holder["runner"]
    assert isinstance(runner, web.AppRunner)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def cli(tmp_path: Path, feed_url: str) -> Cli:
    db_file = tmp_path / "data" / "gongkai.db"
    sources = (
        f'[[sources]]\nname = "gfxwj"\nurl = "{feed_url}"\napprover = "上海市行政规范性文件库"\n'
        '[[sources]]\nname = "paused"\nurl = "https://example.cn/feed"\napprover = "某局"\n'
        "enabled = false\n"
    )
    cli = Cli(tmp_path, write_config(tmp_path / "config.toml", db_file, sources), db_file)
    cli.run("db", "upgrade")
    return cli


def test_pull_shows_summary_with_failures_naming_the_entry_and_returned_items(cli: Cli) -> None:
    result = cli.run("sources", "pull", code=5, env=WIDE)

    out = result.stdout
    assert "抓取结果" in out
    row = next(line for line in out.splitlines() if "gfxwj" in line and "已抓取" in line)
    # new, updated, skipped, returned, failed
    assert [cell.strip() for cell in row.split("│")[3:8]] == ["2", "0", "0", "1", "1"]
    failed = next(line for line in out.splitlines() if "docs/2.html" in line)
    assert "缺少标题" in failed
    assert "预审退文（不会发布）" in out
    returned = next(line for line in out.splitlines() if "内部通报" in line)
    assert "已退文" in returned and "内部" in returned
    assert "paused" not in out  # a disabled source is not pulled
    assert "有 1 处抓取或导入失败" in result.stderr

    # The failure was the entry's own (no title): the feed's ETag was kept, so nothing changed
    again = json.loads(cli.run("sources", "pull", "--json").stdout)
    assert again[0]["status"] == "not_modified" and again[0]["http_status"] == 304
    items = cli.json("item", "list")
    assert {i["title"] for i in items} == {"内部通报", "关于调整办事大厅服务时间的通知"}


def test_list_shows_sources_and_their_last_pull(cli: Cli) -> None:
    before = cli.json("sources", "list")
    assert [(s["name"], s["enabled"], s["last_result"]) for s in before] == [
        ("gfxwj", True, None),
        ("paused", False, None),
    ]
    cli.run("sources", "pull", "--source", "gfxwj", code=5)

    after = {s["name"]: s for s in cli.json("sources", "list")}
    assert after["gfxwj"]["entries"] == 2 and after["gfxwj"]["pulled_at"]
    assert after["gfxwj"]["last_result"]["new"] == 2
    table = cli.run("sources", "list", env=WIDE).stdout
    assert "上海市行政规范性文件库" in table and "新增 2" in table and "从未抓取" in table


def test_pull_of_an_unknown_or_disabled_source_is_a_usage_error(cli: Cli) -> None:
    unknown = cli.run("sources", "pull", "--source", "nope", code=2)
    assert "来源「nope」不在配置中" in unknown.stderr and "gfxwj" in unknown.stderr
    disabled = cli.run("sources", "pull", "--source", "paused", code=2)
    assert "未启用" in disabled.stderr
