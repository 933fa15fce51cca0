"""Uploads in the console's item editor and /media/ serving, over a real aiohttp server on
127.0.0.1 with a real SQLite database and media directory: an uploaded PNG published through
the website feed and through the WeChat channel (against its simulator: uploaded with
media/uploadimg, URL rewritten), EXIF GPS gone from a served JPEG, size and type refusals that
store nothing, CSRF and roles, path traversal, deduplication, the no-script path and the
item's media list."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port
from yarl import URL

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import AuditEvent, Delivery, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app
from channels.sandbox.wechat import Callback, WechatSimulator
from tests.channels.test_wechat import AES_KEY, APP_ID, SECRET, TOKEN, receiver_app
from tests.conftest import Staff
from tests.items.test_media import (
    GPS_TEXT,
    JPEG,
    PDF,
    jpeg_claiming,
    jpeg_with_exif,
    png,
    png_claiming,
)
from tests.web.console.test_auth import console_config, console_staff, csrf_of, login

Client = TestClient[web.Request, web.Application]
JSON = {"Accept": "application/json"}


@contextlib.asynccontextmanager
async def media_site(
    sqlite_url: str, media_dir: Path, port: int = 0, **sections: Any
) -> AsyncIterator[tuple[Config, Staff, Client]]:
    """The whole app on a real server, the media directory under the test's tmp_path."""
    web_section = {"media": {"dir": str(media_dir)}, "max_body_bytes": 4 * 1024 * 1024}
    cfg = console_config(sqlite_url, web=web_section, **sections)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    staff = await console_staff()
    server = TestServer(create_app(cfg), host="127.0.0.1", port=port or None)
    client = TestClient(server)
    await client.start_server()
    try:
        yield cfg, staff, client
    finally:
        await client.close()
        await db.close()


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
async def site(sqlite_url: str, media_dir: Path) -> AsyncIterator[tuple[Config, Staff, Client]]:
    async with media_site(sqlite_url, media_dir) as env:
        yield env


@pytest.fixture
def client(site: tuple[Config, Staff, Client]) -> Client:
    return site[2]


def files(media_dir: Path) -> list[str]:
    """Stored files (no sidecars), and any leftover temporary file."""
    if not media_dir.exists():
        return []
    return sorted(p.name for p in media_dir.iterdir() if not p.name.endswith(".json"))


def form(filename: str, data: bytes, token: str = "", **fields: str) -> aiohttp.FormData:
    out = aiohttp.FormData(quote_fields=False)  # names in raw UTF-8, as browsers send them
    if token:
        out.add_field("_csrf", token)
    for key, value in fields.items():
        out.add_field(key, value)
    out.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return out


async def upload(
    client: Client, token: str, filename: str, data: bytes, **fields: str
) -> aiohttp.ClientResponse:
    """As the editor's script does: token in the header, JSON answer."""
    return await client.post(
        "/console/media",
        data=form(filename, data, **fields),
        headers={"X-CSRF-Token": token, **JSON},
    )


async def publish(config: Config, staff: Staff, body: str) -> Item:
    data = {"kind": "notice", "title": "关于开展政务公开日活动的通知", "body": body}
    item = await lifecycle.create_item(ItemCreate.model_validate(data), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review", outcome.item.return_reason
    await lifecycle.approve(item.id, staff.reviewer, config)
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    return await Item.get(id=item.id)


async def test_an_uploaded_png_is_published_on_the_website_and_served_from_media(
    site: tuple[Config, Staff, Client], media_dir: Path
) -> None:
    config, staff, client = site
    token = await login(client, "alice", "Pw-alpha-2026")
    resp = await upload(client, token, "活动现场.png", png(40, 30), description="活动现场")
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    name = answer["name"]
    assert answer["snippet"] == f"![活动现场](/media/{name})"
    assert (answer["width"], answer["height"], answer["image"]) == (40, 30, True)

    item = await publish(config, staff, f"活动安排如下。\n\n{answer['snippet']}\n")
    page = await (await client.get(f"/items/{item.id}")).text()
    # absolute, so feed readers and the apps that get the same HTML can fetch it
    base = config.app.public_base_url
    assert f'<img src="{base}/media/{name}" alt="活动现场"' in page

    served = await client.get(f"/media/{name}")
    assert served.status == 200
    assert await served.read() == png(40, 30)
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in served.headers["Cache-Control"]
    assert served.headers["Content-Disposition"].startswith("inline")
    again = await client.get(f"/media/{name}", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status == 304
    # The upload is in the audit log, by the editor, with the item's id when sent.
    event = await AuditEvent.filter(action="media.upload").first()
    assert event is not None and event.actor == "user:alice" and event.target_id == name


async def test_an_uploaded_image_goes_to_wechat_through_uploadimg_with_its_url_rewritten(
    sqlite_url: str, media_dir: Path
) -> None:
    received: list[dict[str, Any]] = []
    callback = Callback("", TOKEN, AES_KEY, APP_ID, "safe")
    callback.timeout = 2
    sim = WechatSimulator(APP_ID, SECRET, callback)
    api = TestServer(sim.app, host="127.0.0.1")
    await api.start_server()
    port = unused_port()
    wechat = {
        "enabled": True,
        "app_id": APP_ID,
        "app_secret_env": "GONGKAI_WEBHOOK_SECRET",
        "api_base_url": str(api.make_url("")).rstrip("/"),
        "fallback_base_urls": [],
        "timeout_seconds": 2,
        "publish_wait_seconds": 3,
        "publish_poll_minutes": 0,
    }
    try:
        async with media_site(
            sqlite_url,
            media_dir,
            port=port,
            app={"public_base_url": f"http://127.0.0.1:{port}"},
            channels={"wechat": wechat},
        ) as (config, staff, client):
            hook = TestServer(receiver_app(received), host="127.0.0.1")
            await hook.start_server()
            callback.url = str(hook.make_url("/wechat/callback"))
            try:
                token = await login(client, "alice", "Pw-alpha-2026")
                answer = await (
                    await upload(client, token, "IMG_0001.jpg", jpeg_with_exif())
                ).json()
                item = await publish(config, staff, f"现场照片：\n\n{answer['snippet']}\n")
                d = await Delivery.get(item_id=item.id, channel="wechat", action="publish")
                assert d.status == "done", d.last_error
            finally:
                await hook.close()
    finally:
        await api.close()
    # WeChat got our stored copy (metadata already gone), under its own name, once.
    (image,) = sim.ledger.images
    assert image["name"] == answer["name"] and image["size"] == answer["size"]
    (pub,) = sim.ledger.publications.values()
    (article,) = pub["articles"]
    assert image["url"] in article["content"] and "/media/" not in article["content"]


async def test_a_jpeg_with_exif_gps_is_served_without_it(client: Client) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    answer = await (await upload(client, token, "IMG_0001.jpg", jpeg_with_exif())).json()
    data = await (await client.get(answer["url"])).read()
    assert data.startswith(b"\xff\xd8") and GPS_TEXT not in data and b"Exif" in data
    assert len(data) == answer["size"] < len(jpeg_with_exif())


async def test_an_oversize_image_is_refused_with_413_naming_it_and_nothing_is_stored(
    client: Client, media_dir: Path
) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    resp = await upload(client, token, "大照片.png", png(pad=1_100_000))
    assert resp.status == 413
    message = (await resp.json())["error"]
    assert "大照片.png" in message and "1.0 MB" in message
    assert files(media_dir) == []
    # Without the script (token in the form, the body read whole first): the same refusal.
    resp = await client.post("/console/media", data=form("大照片.png", png(pad=1_100_000), token))
    assert resp.status == 413 and "大照片.png" in await resp.text()
    assert files(media_dir) == []


async def test_an_image_claiming_40000_by_40000_pixels_is_refused_with_413_and_not_stored(
    client: Client, media_dir: Path
) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    bomb = png_claiming(40_000, 40_000)
    resp = await upload(client, token, "宣传海报.png", bomb)
    assert resp.status == 413
    message = (await resp.json())["error"]
    assert "宣传海报.png" in message and "40000 × 40000 像素" in message
    assert "4000 万像素" in message
    assert files(media_dir) == []
    # Without the script (the form read whole for the CSRF check): the same refusal.
    resp = await client.post(
        "/console/media", data=form("海报.jpg", jpeg_claiming(9000, 9000), token)
    )
    assert resp.status == 413
    page = await resp.text()
    assert "海报.jpg" in page and "9000 × 9000 像素" in page
    assert files(media_dir) == []
    # An ordinary image is still taken.
    resp = await upload(client, token, "现场.png", png(40, 30))
    assert resp.status == 200 and (await resp.json())["width"] == 40
    assert len(files(media_dir)) == 1


async def test_html_named_png_is_refused_with_400_naming_it_and_the_allowed_types(
    client: Client, media_dir: Path
) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    fake = b"<html><body><script>alert(document.cookie)</script></body></html>"
    resp = await upload(client, token, "photo.png", fake)
    assert resp.status == 400
    message = (await resp.json())["error"]
    assert "photo.png" in message and "HTML" in message and "JPG、PNG、PDF" in message
    assert files(media_dir) == []


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2Fsecret.txt",
        "/media/%2e%2e%2fsecret.txt",
        "/media/..%5Csecret.txt",
        "/media/secret.txt",
        "/media/" + "A" * 32 + ".png",
        "/media/{name}.json",
        "/media/{name}%00",
        "/media/.upload-x.part",
    ],
)
async def test_names_that_are_not_stored_files_are_404(
    client: Client, media_dir: Path, path: str
) -> None:
    (media_dir.parent / "secret.txt").write_text("SECRET-CONTENT")
    token = await login(client, "alice", "Pw-alpha-2026")
    name = (await (await upload(client, token, "a.png", png())).json())["name"]
    (media_dir / ".upload-x.part").write_bytes(b"half")
    resp = await client.get(URL(path.format(name=name), encoded=True))
    assert resp.status == 404
    assert "SECRET-CONTENT" not in await resp.text()


async def test_upload_without_csrf_token_is_403_and_stores_nothing(
    client: Client, media_dir: Path
) -> None:
    await login(client, "alice", "Pw-alpha-2026")
    resp = await client.post("/console/media", data=form("a.png", png()), headers=JSON)
    assert resp.status == 403
    resp = await upload(client, "wrong-token", "a.png", png())
    assert resp.status == 403
    assert files(media_dir) == []


async def test_a_moderator_cannot_upload(client: Client, media_dir: Path) -> None:
    token = await login(client, "mod", "Pw-mike-2026")
    resp = await upload(client, token, "a.png", png())
    assert resp.status == 403
    assert files(media_dir) == []


async def test_the_same_file_uploaded_twice_is_stored_once(client: Client, media_dir: Path) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    first = await (await upload(client, token, "一.pdf", PDF)).json()
    second = await (await upload(client, token, "二.pdf", PDF)).json()
    assert first["name"] == second["name"] and (first["new"], second["new"]) == (True, False)
    assert files(media_dir) == [first["name"]]
    assert await AuditEvent.filter(action="media.upload").count() == 2


async def test_an_attachment_is_served_as_a_download_with_its_chinese_name(
    client: Client,
) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    answer = await (await upload(client, token, "2021年工作要点.pdf", PDF)).json()
    assert answer["snippet"] == f"[2021年工作要点.pdf](/media/{answer['name']})"
    resp = await client.get(answer["url"])
    assert resp.headers["Content-Type"] == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''2021%E5%B9%B4" in disposition
    assert await resp.read() == PDF


async def test_without_script_the_upload_answers_a_page_with_the_snippet_to_copy(
    client: Client,
) -> None:
    token = await login(client, "alice", "Pw-alpha-2026")
    resp = await client.post(
        "/console/media", data=form("<b>图</b>.jpg", JPEG, token, description="说明")
    )
    assert resp.status == 200
    page = await resp.text()
    match = re.search(r'<textarea id="media-snippet"[^>]*readonly>([^<]*)</textarea>', page)
    assert match, page
    assert re.fullmatch(r"!\[说明\]\(/media/[0-9a-f]{32}\.jpg\)", match.group(1))
    assert "<b>图</b>" not in page  # the file name is shown as text


async def test_the_editor_has_a_labelled_upload_form_and_the_item_page_lists_its_media(
    site: tuple[Config, Staff, Client],
) -> None:
    config, staff, client = site
    token = await login(client, "alice", "Pw-alpha-2026")
    image = await (await upload(client, token, "图一.png", png())).json()
    doc = await (await upload(client, token, "要点.pdf", PDF)).json()
    missing = "f" * 32 + ".png"
    body = f"{image['snippet']}\n\n{doc['snippet']}\n\n![旧图](/media/{missing})"
    item = await lifecycle.create_item(
        ItemCreate.model_validate({"kind": "notice", "title": "通知", "body": body}),
        staff.editor,
        config,
    )
    editor = await (await client.get(f"/console/items/{item.id}/edit")).text()
    for control in ("media-file", "media-description"):
        assert f'<label for="{control}">' in editor and f'id="{control}"' in editor
    assert 'action="/console/media" enctype="multipart/form-data"' in editor
    assert csrf_of(editor) == token
    assert '<script src="/console/static/media.js"' in editor
    assert (await client.get("/console/static/media.js")).status == 200
    blank = await (await client.get("/console/items/new?kind=notice")).text()
    assert 'id="media-form"' in blank and 'name="item"' not in blank

    page = await (await client.get(f"/console/items/{item.id}/media")).text()
    assert "图一.png" in page and f"{len(png())} 字节" in page and "8×8" in page
    assert "要点.pdf" in page and f"{len(PDF)} 字节" in page
    assert "文件不存在" in page and missing in page
