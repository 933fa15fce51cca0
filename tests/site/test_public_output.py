"""What the built public pages and feeds send, checked from outside: validators of the exact
bytes per format and coding, compression that round-trips, the security and caching headers,
absolute links in every feed format (feedparser, and the JSON Feed 1.1 schema from npm's
jsonfeed-schema), every kind of public page parsed without error by the WHATWG HTML parser
(html5lib, strict), and a site that keeps answering from what it built while the database is
away."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import feedparser
import html5lib
import jsonschema
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

from bot import db
from bot.config import Config
from bot.site.built import Built
from bot.site.built import build as built_page
from bot.site.cache import SiteCache
from bot.web.keys import SITE
from tests.conftest import make_config
from tests.web.conftest import Publish, SiteClient, build_app, site_caught_up
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]
Headers = CIMultiDictProxy[str]
SCHEMA = Path(__file__).resolve().parents[1] / "js/node_modules/jsonfeed-schema/schema-v1.1.json"
FEEDS = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")
BODY = (
    "见[上一份通知](/items/1)、[附件](../media/abc.pdf)和[说明](notes#part)。\n\n"
    "![现场](/media/photo.png)"
)


async def get(client: Client, path: str, **headers: str) -> tuple[int, Headers, bytes]:
    """The response as sent: the body in the coding asked for (identity unless one is named)."""
    asked = {"Accept-Encoding": "identity", **headers}
    resp = await client.get(path, headers=asked, auto_decompress=False)
    return resp.status, resp.headers, await resp.read()


async def test_each_format_and_coding_has_the_etag_of_its_own_bytes(
    publish: Publish, client: Client
) -> None:
    await publish(title="关于开展政务公开日活动的通知", body=BODY)
    etags = set()
    for path in FEEDS:
        status, plain, identity = await get(client, path, **{"Accept-Encoding": "identity"})
        assert status == 200 and "Content-Encoding" not in plain
        _, zipped, gz = await get(client, path, **{"Accept-Encoding": "gzip"})
        _, broken, br = await get(client, path, **{"Accept-Encoding": "gzip, deflate, br"})
        assert (zipped["Content-Encoding"], broken["Content-Encoding"]) == ("gzip", "br")
        assert gzip.decompress(gz) == identity and brotli.decompress(br) == identity
        for headers in (plain, zipped, broken):
            assert headers["Vary"] == "Accept-Encoding"
            assert headers["Last-Modified"] == plain["Last-Modified"]
        etags |= {plain["ETag"], zipped["ETag"], broken["ETag"]}
        # A client holding one coding's ETag gets 304 for that coding only.
        again = await get(
            client, path, **{"Accept-Encoding": "gzip", "If-None-Match": zipped["ETag"]}
        )
        assert (again[0], again[2]) == (304, b"")
        assert again[1]["ETag"] == zipped["ETag"] and "Content-Encoding" not in again[1]
        other = await get(
            client, path, **{"Accept-Encoding": "identity", "If-None-Match": zipped["ETag"]}
        )
        assert other[0] == 200
    assert len(etags) == 9  # three formats, three codings: nine different bodies


async def test_a_feed_title_change_in_the_configuration_changes_the_etag(
    config: Config, publish: Publish, client: Client
) -> None:
    await publish(title="关于开展政务公开日活动的通知")
    _, before, _ = await get(client, "/feeds/all.atom")
    renamed = make_config(config.database.url, channels={"feed": {"title": "某某局政府信息公开"}})
    async with SiteClient(TestServer(build_app(renamed), host="127.0.0.1")) as other:
        status, after, body = await get(other, "/feeds/all.atom")
    assert status == 200 and "某某局政府信息公开" in body.decode()
    assert after["ETag"] != before["ETag"]
    assert after["Last-Modified"] >= before["Last-Modified"]  # the epoch moved, not back


async def test_empty_feeds_differ_and_never_go_back_in_time(
    publish: Publish, retract: Any, client: Client
) -> None:
    empty = {(await get(client, f"/feeds/{c}.atom"))[1]["ETag"] for c in ("all", "notice")}
    assert len(empty) == 2
    item = await publish(title="唯一的通知")
    published = feedparser.parse((await get(client, "/feeds/notice.atom"))[2])
    await retract(item.id)
    status, headers, body = await get(client, "/feeds/notice.atom")
    gone = feedparser.parse(body)
    assert status == 200 and gone.entries == []
    assert gone.feed.updated_parsed >= published.feed.updated_parsed
    assert headers["ETag"] not in empty


async def test_every_link_in_every_feed_format_is_absolute_and_the_json_feed_is_valid(
    config: Config, publish: Publish, client: Client
) -> None:
    item = await publish(title="关于开展政务公开日活动的通知", body=BODY)
    base = config.app.public_base_url
    page = f"{base}/items/{item.id}"
    expected = {
        f"{base}/items/1",
        f"{base}/media/abc.pdf",
        f"{base}/items/notes#part",
        f"{base}/media/photo.png",
    }
    contents = []
    for path in FEEDS[:2]:
        parsed = feedparser.parse((await get(client, path))[2])
        assert not parsed.bozo, parsed.get("bozo_exception")
        (entry,) = parsed.entries
        assert entry.link == page
        assert entry.author == "办公室"  # Atom <author>, RSS <dc:creator>
        contents.append(entry.content[0].value)
    doc = json.loads((await get(client, FEEDS[2]))[2])
    jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))
    contents.append(doc["items"][0]["content_html"])
    for html in contents:
        refs = set(re.findall(r'(?:href|src)="([^"]*)"', html))
        assert expected <= refs, refs
        assert all(r.startswith(("http://", "https://")) for r in refs), refs


async def test_pages_carry_the_security_and_caching_headers_and_whole_second_times(
    config: Config, publish: Publish, client: Client
) -> None:
    item = await publish(title="关于开展政务公开日活动的通知")
    p = config.web.public
    caching = f"public, max-age={p.max_age_seconds}, "
    caching += f"stale-while-revalidate={p.stale_while_revalidate_seconds}"
    for path in (f"/items/{item.id}", "/feeds/all.atom", "/qa", "/qa.atom"):
        status, headers, _ = await get(client, path)
        assert status == 200, path
        assert headers["Cache-Control"] == caching, path
        assert (
            headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        )
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        # One script, our own file (the 长辈版 switch): nothing inline, nothing from elsewhere.
        assert f"script-src 'self' {origin(config)}; " in csp
    page = (await get(client, f"/items/{item.id}"))[2].decode()
    assert (
        "<style" not in page and 'href="' + config.app.public_base_url + '/assets/site.css"' in page
    )
    times = re.findall(r'<time datetime="([^"]+)"', page)
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", t) for t in times)
    css = await client.get("/assets/site.css")
    assert css.status == 200 and "font-family" in await css.text()
    # Not found is not cached by a proxy.
    status, headers, _ = await get(client, "/items/999999")
    assert status == 404 and headers["Cache-Control"] == "no-cache"


def origin(config: Config) -> str:
    base = urlsplit(config.app.public_base_url)
    return f"{base.scheme}://{base.netloc}"


async def test_every_kind_of_public_page_is_valid_html_with_the_site_headers(
    config: Config, publish: Publish, retract: Any, client: Client
) -> None:
    """Home, 网站地图, column, item, 选登, form and error pages: each parses without a single
    error in the WHATWG parser (html5lib in strict mode) and in the structure check, says it
    is zh-CN, and carries the security headers; the cached ones also the caching headers."""
    item = await publish(title="关于开展政务公开日活动的通知", body=BODY)
    gone = await publish(title="关于撤稿的通知")
    await retract(gone.id)
    p = config.web.public
    caching = f"public, max-age={p.max_age_seconds}, "
    caching += f"stale-while-revalidate={p.stale_while_revalidate_seconds}"
    pages = {
        "/": (200, caching),
        "/sitemap": (200, caching),
        "/columns/notice": (200, caching),
        "/columns/notice?year=2001": (200, caching),
        f"/items/{item.id}": (200, caching),
        "/qa": (200, caching),
        "/feedback/status": (200, "no-store"),
        f"/items/{gone.id}": (410, caching),
        "/nowhere": (404, "no-cache"),
        "/columns/notice?page=x": (400, "no-cache"),
    }
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    for path, (status, cache_control) in pages.items():
        got, headers, body = await get(client, path)
        assert got == status, path
        page = body.decode()
        parser.parse(page)  # raises at the first parse error, naming it
        check_html(page)
        assert headers["Cache-Control"] == cache_control, path
        if cache_control != "no-store":  # the 留言 pages keep their own headers
            csp = headers["Content-Security-Policy"]
            assert f"script-src 'self' {origin(config)}; " in csp, path
            assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp, path
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts == [f'<script src="{config.app.public_base_url}/assets/elder.js">'], path
    _, headers, _ = await get(client, "/", **{"Accept-Encoding": "br"})
    assert headers["Content-Encoding"] == "br"
    for path in ("/sitemap.xml", "/robots.txt", "/favicon.ico", "/assets/favicon.svg"):
        got, headers, _ = await get(client, path)
        assert got == 200 and headers["Cache-Control"] == caching, path


async def test_built_pages_are_built_once_and_served_while_the_database_is_away(
    config: Config, publish: Publish, client: Client
) -> None:
    item = await publish(title="关于开展政务公开日活动的通知")
    site = client.app[SITE]
    builds = site.cache.builds
    answers = await asyncio.gather(*(get(client, f"/items/{item.id}") for _ in range(50)))
    assert {a[0] for a in answers} == {200} and len({a[2] for a in answers}) == 1
    assert site.cache.builds == builds + 1  # fifty readers, one build
    await get(client, "/feeds/all.atom")
    await db.close()  # the database goes away; what was built is still served
    try:
        for path in (f"/items/{item.id}", "/feeds/all.atom"):
            # Straight to the server: the test client's own wait reads the database.
            async with client.session.get(client.make_url(path)) as resp:
                assert resp.status == 200, path
    finally:
        await db.init(config, check_schema=False)
    await site_caught_up(client.app)


async def test_odd_validators_ids_and_codings_never_answer_5xx(
    publish: Publish, client: Client
) -> None:
    item = await publish(title="关于开展政务公开日活动的通知")
    path = f"/items/{item.id}"
    status, _, _ = await get(
        client, path, **{"If-Modified-Since": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"}
    )
    assert status == 200  # an unparsable date is ignored
    # A NUL in the category (PostgreSQL text cannot hold one), a broken page number: 404.
    for query in ("category=%00", "category=a%01b", "page=%ED%A0%80"):
        assert (await get(client, f"/qa?{query}"))[0] == 404, query
    assert (await get(client, "/qa?category=" + "x" * 5000))[0] == 200  # cut to 32, no match
    for raw in ("99999999999", "2147483648", "0"):
        assert (await get(client, f"/items/{raw}"))[0] == 404
        assert (await get(client, f"/qa/{raw}"))[0] == 404
    # Accept-Encoding over two header lines, x-gzip for gzip, q out of range clamped.
    resp = await client.get(
        path,
        headers=[("Accept-Encoding", "identity;q=0.1"), ("Accept-Encoding", "x-gzip")],
        auto_decompress=False,
    )
    assert resp.headers["Content-Encoding"] == "gzip"
    _, headers, _ = await get(client, path, **{"Accept-Encoding": "br;q=5, gzip;q=nan"})
    assert headers["Content-Encoding"] == "br"


async def test_a_reader_who_leaves_does_not_stop_the_build_others_wait_for() -> None:
    cache = SiteCache(1 << 20)
    started, release = asyncio.Event(), asyncio.Event()
    starts = []

    async def build() -> tuple[Built, bool]:
        starts.append(1)
        started.set()
        await release.wait()
        return built_page(b"<p>ok</p>", "text/html"), True

    first = asyncio.create_task(cache.get("item:1", build))
    await started.wait()
    first.cancel()  # the first reader's client went away while its page was being built
    second = asyncio.create_task(cache.get("item:1", build))
    release.set()
    result = await asyncio.wait_for(second, 5)
    assert result.variants["identity"].body == b"<p>ok</p>"
    assert len(starts) == 1  # the build went on without its first reader
    assert cache.builds == 1 and cache.peek("item:1") is result
