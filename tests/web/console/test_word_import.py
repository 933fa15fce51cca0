"""从 Word 导入 on the console's new-item page, over a real aiohttp server on 127.0.0.1 with a real
SQLite database and media directory: a .docx (written by python-docx) uploaded as the page's
script sends it (streamed, CSRF token in a header) and as a plain form becomes a draft that
opens in the editor; its console page and, once published, its public page show the heading,
the numbered list, the table and the picture. A .doc, a renamed .xlsx and a zip bomb are refused
in Chinese naming the problem, with no item and no stored picture left behind."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import docx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.models import AuditEvent, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app
from tests.conftest import Staff
from tests.items.test_media import cfb, chunk, png
from tests.items.test_wordfile import TITLE, notice_docx, saved, xlsx, zip_bomb
from tests.web.console.test_auth import console_config, console_staff, login
from tests.web.public.test_media import files

Client = TestClient[web.Request, web.Application]
PATH = "/console/items/new/word"
JSON = {"Accept": "application/json"}


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@contextlib.asynccontextmanager
async def word_site(
    sqlite_url: str, media_dir: Path, max_body: int = 4 * 1024 * 1024, **word: Any
) -> AsyncIterator[tuple[Config, Staff, Client]]:
    """The whole app on a real server, its media directory under the test's tmp_path, a plain
    form allowed `max_body` bytes (4 MB: a zip bomb's few hundred KB fit)."""
    media = {"dir": str(media_dir), "word": word}
    cfg = console_config(sqlite_url, web={"media": media, "max_body_bytes": max_body})
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    staff = await console_staff()
    client = TestClient(TestServer(create_app(cfg), host="127.0.0.1"))
    await client.start_server()
    try:
        yield cfg, staff, client
    finally:
        await client.close()
        await db.close()


@pytest.fixture
async def site(sqlite_url: str, media_dir: Path) -> AsyncIterator[tuple[Config, Staff, Client]]:
    async with word_site(sqlite_url, media_dir) as env:
        yield env


def form(name: str, data: bytes, kind: str = "notice", token: str = "") -> aiohttp.FormData:
    out = aiohttp.FormData(quote_fields=False)  # names in raw UTF-8, as browsers send them
    if token:
        out.add_field("_csrf", token)
    out.add_field("kind", kind)
    out.add_field("file", data, filename=name, content_type="application/octet-stream")
    return out


async def scripted(client: Client, token: str, name: str, data: bytes) -> aiohttp.ClientResponse:
    """As static/console/wordimport.js sends it: the token in a header, a JSON answer."""
    return await client.post(PATH, data=form(name, data), headers={"X-CSRF-Token": token, **JSON})


async def test_an_upload_opens_a_draft_whose_pages_show_its_heading_list_table_and_picture(
    site: tuple[Config, Staff, Client], media_dir: Path
) -> None:
    config, staff, client = site
    token = await login(client, "alice", "Pw-alpha-2026")
    new = await (await client.get("/console/items/new")).text()
    assert 'action="/console/items/new/word"' in new and "不超过 20.0 MB" in new

    resp = await scripted(client, token, "通知.docx", notice_docx())
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    item_id = answer["id"]
    assert answer["redirect"] == f"/console/items/{item_id}/edit"

    editor = await (await client.get(answer["redirect"])).text()
    assert f"已从「通知.docx」导入为草稿 #{item_id}（通知公告）" in editor
    assert "文号 银发〔2024〕12号" in editor and "成文日期 2024-03-15" in editor
    assert f'value="{TITLE}"' in editor and 'value="银发〔2024〕12号"' in editor
    assert 'value="2024-03-15"' in editor and "## 一、工作目标" in editor

    [name] = [f for f in files(media_dir) if f.endswith(".png")]
    page = await (await client.get(f"/console/items/{item_id}")).text()
    assert "<h2>一、工作目标</h2>" in page
    assert "<li>完善公开目录</li>" in page and "<li>规范发布流程</li>" in page
    assert "<th>事项</th>" in page and "<td>目录更新</td>" in page
    assert f'src="{config.app.public_base_url}/media/{name}" alt="通知-图1"' in page
    assert (await client.get(f"/media/{name}")).status == 200

    await lifecycle.submit(item_id, staff.editor, config)
    await lifecycle.approve(item_id, staff.reviewer, config)
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    public = await (await client.get(f"/items/{item_id}")).text()
    assert TITLE in public and "<h2>一、工作目标</h2>" in public
    assert re.search(r"<ol>\s*<li>完善公开目录</li>", public)
    assert "<th>事项</th>" in public and "<td>3月底</td>" in public
    assert f'<img src="{config.app.public_base_url}/media/{name}"' in public
    event = await AuditEvent.filter(action="item.import").first()
    assert event is not None and event.actor == "user:alice" and event.target_id == str(item_id)


async def test_without_the_script_the_form_posts_and_the_editor_opens(
    site: tuple[Config, Staff, Client],
) -> None:
    _, _, client = site
    token = await login(client, "alice", "Pw-alpha-2026")
    resp = await client.post(
        PATH, data=form("要点.docx", notice_docx(), "policy", token), allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    item = await Item.get(title=TITLE)
    assert resp.headers["Location"] == f"/console/items/{item.id}/edit"
    assert item.kind == "policy" and item.doc_number == "银发〔2024〕12号"


@pytest.mark.parametrize(
    ("name", "make", "status", "said"),
    [
        ("通知.doc", lambda: cfb("WordDocument"), 422, "请另存为 .docx 后上传"),
        ("通知.wps", lambda: b"wps", 422, "请另存为 .docx 后上传"),
        ("通知.docx", xlsx, 422, "是Excel 表格（.xlsx），不是 Word 文档"),
        ("通知.docx", lambda: b"PK\x03\x04 truncated", 422, "已损坏或不完整"),
        ("通知.docx", lambda: zip_bomb(110 * 1024 * 1024), 413, "解压后大小上限 100.0 MB"),
    ],
)
async def test_files_that_are_not_a_sound_docx_are_refused_and_nothing_is_left(
    site: tuple[Config, Staff, Client],
    media_dir: Path,
    name: str,
    make: Callable[[], bytes],
    status: int,
    said: str,
) -> None:
    _, _, client = site
    data = make()
    token = await login(client, "alice", "Pw-alpha-2026")
    resp = await scripted(client, token, name, data)
    assert resp.status == status
    assert said in (await resp.json())["error"]
    # without the script: the new-item page again, the refusal shown above the form
    resp = await client.post(PATH, data=form(name, data, token=token))
    assert resp.status == status
    page = await resp.text()
    assert said in page and 'id="word-form"' in page
    assert await Item.all().count() == 0 and files(media_dir) == []
    assert await AuditEvent.filter(action__startswith="item.").count() == 0


async def test_a_document_over_the_size_limit_is_refused_while_it_streams(
    sqlite_url: str, media_dir: Path
) -> None:
    async with word_site(sqlite_url, media_dir, max_bytes=8192) as (_, _, client):
        token = await login(client, "alice", "Pw-alpha-2026")
        resp = await scripted(client, token, "通知.docx", notice_docx())
        assert resp.status == 413
        assert "Word 文档大小上限 8.0 KB" in (await resp.json())["error"]
        assert await Item.all().count() == 0 and files(media_dir) == []


async def test_a_document_larger_than_a_plain_form_may_carry_arrives_through_the_script(
    sqlite_url: str, media_dir: Path
) -> None:
    """[web] max_body_bytes bounds a plain form (1 MB by default); the script's streamed upload
    is bounded by [web.media.word] max_bytes instead."""
    document = docx.Document()
    document.add_heading("活动现场", level=0)
    for _ in range(2):  # 600 KB of noise each, in a chunk the upload drops (not pixels)
        document.add_picture(io.BytesIO(png(4, 3, extra=chunk(b"prVt", os.urandom(600_000)))))
    data = saved(document)
    assert len(data) > 1024 * 1024
    async with word_site(sqlite_url, media_dir, max_body=1024 * 1024) as (_, _, client):
        token = await login(client, "alice", "Pw-alpha-2026")
        resp = await scripted(client, token, "现场.docx", data)
        assert resp.status == 200, await resp.text()
        item = await Item.get(id=(await resp.json())["id"])
        assert item.title == "活动现场" and item.body.count("](/media/") == 2
        resp = await client.post(PATH, data=form("现场.docx", data, token=token))
        assert resp.status == 413  # the plain form: over [web] max_body_bytes
