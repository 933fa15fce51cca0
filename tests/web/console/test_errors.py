"""The console's error pages over a real server: an unknown path, a method a path does not
take, a body over the limit and an expired session each answer the console's Chinese page with
its header and a way back, never aiohttp's English text."""

from __future__ import annotations

from bot.config import Config
from tests.web.console.test_auth import Client, csrf_of, login

ENGLISH = ("Not Found", "Method Not Allowed", "Maximum request body size", "Internal Server Error")


def assert_chinese_page(page: str) -> None:
    assert 'lang="zh-CN"' in page and "工作台" in page
    for text in ENGLISH:
        assert text not in page


async def test_unknown_console_path_is_a_chinese_404_with_the_users_menu(cclient: Client) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.get("/console/no-such-page", headers={"Referer": "http://x/"})
    page = await resp.text()
    assert resp.status == 404
    assert_chinese_page(page)
    assert "未找到" in page and "页面或条目不存在" in page
    assert "退出登录" in page  # the console's header, for the logged-in user
    assert 'href="/console/"' in page  # a way back
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_unknown_console_path_asks_a_stranger_to_log_in_first(cclient: Client) -> None:
    resp = await cclient.get("/console/no-such-page", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/console/login?next=")


async def test_get_on_a_post_only_path_is_a_chinese_405_naming_the_methods(
    cclient: Client,
) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.get("/console/items")
    page = await resp.text()
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
    assert_chinese_page(page)
    assert "请求方式不受支持" in page


async def test_a_body_over_the_limit_is_a_chinese_413_naming_the_limit(
    cclient: Client, cconfig: Config
) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    editor = await cclient.get("/console/items/new?kind=notice")
    body = "长" * cconfig.web.max_body_bytes  # three bytes each in UTF-8
    resp = await cclient.post(
        "/console/items",
        data={"_csrf": token, "kind": "notice", "title": "大文件", "body": body},
        headers={"Referer": str(editor.url)},
    )
    page = await resp.text()
    assert resp.status == 413
    assert_chinese_page(page)
    limit = cconfig.web.max_body_bytes // (1024 * 1024)
    assert f"最多 {limit} MB" in page and "返回编辑页面即可恢复" in page
    assert 'href="/console/items/new?kind=notice">返回上一页' in page
    # The failed request stored nothing and the session still works.
    queue = await cclient.get("/console/")
    assert queue.status == 200 and "大文件" not in await queue.text()


async def test_a_post_after_the_session_ended_says_so_in_chinese(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    form = await (await cclient.get("/console/items/new?kind=notice")).text()
    await cclient.post("/console/logout", data={"_csrf": csrf_of(form)})
    resp = await cclient.post(
        "/console/items", data={"_csrf": token, "kind": "notice", "title": "t", "body": "b"}
    )
    page = await resp.text()
    assert resp.status in (401, 403)
    assert_chinese_page(page)
    assert "前往登录" in page
