"""人员管理 (/console/users) and 修改密码 (/console/password) through the console: only an admin
administers accounts; a password the admin sets is shown once and must be changed at the next
login; a password breaking the policy is refused with the rule named; reset, disable and
revoke end sessions at once; an admin clears a login throttle; API tokens are listed and
revoked; every change is audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot import users
from bot.config import Config
from bot.models import AuditEvent, User
from bot.staff import passwords
from tests.conftest import Staff
from tests.web.console.test_auth import Client, client_for, csrf_of, login
from tests.web.console.test_login_throttle import attempt
from tests.web.console.test_sessions import set_clock

ROOT, ALICE, BOB = ("root", "Pw-romeo-2026"), ("alice", "Pw-alpha-2026"), ("bob", "Pw-bravo-2026")
_SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


def shown_password(html: str) -> str:
    match = _SECRET.search(html)
    assert match, "no password shown"
    return match.group(1)


async def test_only_an_admin_opens_staff_administration(cconfig: Config, cstaff: Staff) -> None:
    await users.add_user(
        "audrey",
        ["auditor"],
        "Audit-trail-2026",
        "system:test",
        policy=cconfig.staff.password,
        must_change=False,
    )
    alice = await User.get(username="alice")
    for who in (ALICE, BOB, ("mod", "Pw-mike-2026"), ("audrey", "Audit-trail-2026")):
        c = await client_for(cconfig)
        try:
            token = await login(c, *who) if who[0] != "audrey" else await _login_any(c, *who)
            assert (await c.get("/console/users")).status == 403, who
            assert (await c.get(f"/console/users/{alice.id}")).status == 403, who
            resp = await c.post(f"/console/users/{alice.id}/disable", data={"_csrf": token})
            assert resp.status == 403, who
        finally:
            await c.close()
    assert (await User.get(username="alice")).active
    c = await client_for(cconfig)
    try:
        await login(c, *ROOT)
        page = await c.get("/console/users")
        assert page.status == 200
        text = await page.text()
        for name in ("alice", "bob", "carol", "mod", "audrey"):
            assert name in text
        assert "审计员" in text
    finally:
        await c.close()


async def _login_any(c: Client, username: str, password: str) -> str:
    """Log in a user whose landing page is not the queue (an auditor)."""
    page = await c.get("/console/login")
    resp = await c.post(
        "/console/login",
        data={"username": username, "password": password, "_csrf": csrf_of(await page.text())},
    )
    assert resp.status == 200
    return csrf_of(await resp.text())


async def test_a_new_account_gets_a_password_once_and_must_change_it(
    cconfig: Config, cstaff: Staff
) -> None:
    admin, dave = await client_for(cconfig), await client_for(cconfig)
    try:
        token = await login(admin, *ROOT)
        resp = await admin.post(
            "/console/users",
            data={
                "_csrf": token,
                "username": "dave",
                "display_name": "戴维",
                "office": "办公室",
                "roles": "editor",
            },
        )
        assert resp.status == 200
        first = shown_password(await resp.text())
        assert await AuditEvent.filter(action="user.add", actor="user:root").exists()
        assert first not in await (await admin.get("/console/users")).text()  # shown once

        page = await dave.get("/console/login")
        resp = await dave.post(
            "/console/login",
            data={"username": "dave", "password": first, "_csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/console/password?next=")
        # Until the password is changed nothing else opens.
        resp = await dave.get("/console/items/new", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/console/password")
        form = await dave.get("/console/password")
        dave_token = csrf_of(await form.text())
        resp = await dave.post("/console/items", data={"_csrf": dave_token, "kind": "notice"})
        assert resp.status == 403 and "须先修改密码" in await resp.text()

        async def change(new: str, old: str = first) -> tuple[int, str]:
            resp = await dave.post(
                "/console/password",
                data={"_csrf": dave_token, "old": old, "new": new, "again": new},
            )
            return resp.status, await resp.text()

        status, text = await change("short1A")
        assert status == 422 and "至少 12 个字符" in text
        status, text = await change("alllowercaseletters")
        assert status == 422 and "至少 3 类" in text
        status, text = await change("Dave-Password-2026")
        assert status == 422 and "用户名" in text
        status, text = await change("Good-Pass-2026x", old="wrong")
        assert status == 422 and "原密码不正确" in text
        status, text = await change("Good-Pass-2026x")
        assert status == 200 and "密码已修改" in text
        assert (await dave.get("/console/items/new")).status == 200
        assert not (await User.get(username="dave")).must_change_password
    finally:
        await admin.close()
        await dave.close()


async def test_reset_disable_and_revoke_end_sessions_at_once(
    cconfig: Config, cstaff: Staff
) -> None:
    admin = await client_for(cconfig)
    browsers = [await client_for(cconfig) for _ in range(2)]
    alice = await User.get(username="alice")
    bob = await User.get(username="bob")
    try:
        token = await login(admin, *ROOT)
        for b in browsers:
            await login(b, *ALICE)
        page = await (await admin.get(f"/console/users/{alice.id}")).text()
        assert "当前登录（2 个）" in page
        digest = re.search(r'name="session" value="([0-9a-f]{64})"', page)
        assert digest
        await admin.post(
            f"/console/users/{alice.id}/sessions", data={"_csrf": token, "session": digest[1]}
        )
        statuses = sorted(
            [(await b.get("/console/", allow_redirects=False)).status for b in browsers]
        )
        assert statuses == [200, 303]
        # Reset: the new password is shown once, every session ends, it must be changed.
        resp = await admin.post(f"/console/users/{alice.id}/reset-password", data={"_csrf": token})
        new = shown_password(await resp.text())
        for b in browsers:
            assert (await b.get("/console/", allow_redirects=False)).status == 303
        page = await browsers[0].get("/console/login")
        resp = await browsers[0].post(
            "/console/login",
            data={"username": "alice", "password": new, "_csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
        assert resp.headers["Location"].startswith("/console/password")
        # Disable: bob's session ends; enable lets him in again.
        await login(browsers[1], *BOB)
        await admin.post(f"/console/users/{bob.id}/disable", data={"_csrf": token})
        assert (await browsers[1].get("/console/", allow_redirects=False)).status == 303
        assert (await attempt(browsers[1], *BOB)).status == 401
        await admin.post(f"/console/users/{bob.id}/enable", data={"_csrf": token})
        await login(browsers[1], *BOB)
        # An admin cannot disable themself.
        root = await User.get(username="root")
        resp = await admin.post(f"/console/users/{root.id}/disable", data={"_csrf": token})
        assert resp.status == 422 and "不能停用自己" in await resp.text()
        actions = {e.action for e in await AuditEvent.filter(actor="user:root")}
        assert {
            "user.sessions_end",
            "user.reset_password",
            "user.disable",
            "user.enable",
        } <= actions
    finally:
        await admin.close()
        for b in browsers:
            await b.close()


async def test_an_admin_clears_a_login_throttle_and_revokes_tokens(
    cconfig: Config, cstaff: Staff
) -> None:
    admin, c = await client_for(cconfig), await client_for(cconfig)
    alice = await User.get(username="alice")
    try:
        for client in (c, admin):
            set_clock(client, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
        for _ in range(cconfig.web.console.login_max_failures):
            await attempt(c, "alice", "wrong")
        assert (await attempt(c, *ALICE)).status == 429
        token = await login(admin, *ROOT)
        page = await (await admin.get(f"/console/users/{alice.id}")).text()
        assert "秒后才能再试" in page
        await admin.post(f"/console/users/{alice.id}/unlock", data={"_csrf": token})
        assert await AuditEvent.filter(action="user.unlock", target_id=str(alice.id)).exists()
        # The account may try again at once (its address had fewer failures than its limit).
        assert (await attempt(c, *ALICE)).status == 303

        api_token, plain = await users.add_token("alice", "导入脚本", None, "system:test")
        await users.add_token("alice", "市平台", None, "system:test", ["knowledge"])
        page = await (await admin.get(f"/console/users/{alice.id}")).text()
        assert "导入脚本" in page and api_token.prefix in page
        assert "知识库只读（供其他系统读取）" in page and "knowledge" not in page
        headers = {"Authorization": f"Bearer {plain}"}
        assert (await admin.get("/api/v1/items", headers=headers)).status == 200
        resp = await admin.post(
            f"/console/users/{alice.id}/tokens/{api_token.id}/revoke", data={"_csrf": token}
        )
        assert resp.status == 200 and "已吊销令牌" in await resp.text()
        assert (await admin.get("/api/v1/items", headers=headers)).status == 401
    finally:
        await admin.close()
        await c.close()


async def test_a_users_own_password_change_ends_their_other_sessions(
    cconfig: Config, cstaff: Staff
) -> None:
    here, there = await client_for(cconfig), await client_for(cconfig)
    try:
        token = await login(here, *ALICE)
        await login(there, *ALICE)
        resp = await here.post(
            "/console/password",
            data={
                "_csrf": token,
                "old": ALICE[1],
                "new": "Another-Pass-77",
                "again": "Another-Pass-77",
            },
        )
        assert "已注销您在其他地方的 1 个登录" in await resp.text()
        assert (await here.get("/console/", allow_redirects=False)).status == 200
        assert (await there.get("/console/", allow_redirects=False)).status == 303
    finally:
        await here.close()
        await there.close()


async def test_guessing_the_old_password_on_the_password_page_is_slowed_like_a_login(
    cclient: Client, cconfig: Config
) -> None:
    set_clock(cclient, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    token = await login(cclient, *ALICE)

    async def change(old: str) -> Any:
        new = "Another-Pass-77"
        return await cclient.post(
            "/console/password", data={"_csrf": token, "old": old, "new": new, "again": new}
        )

    free = cconfig.web.console.login_max_failures
    for n in range(free):
        resp = await change(f"guess-{n}")
        assert resp.status == 422 and "原密码不正确" in await resp.text()
    assert resp.headers["Retry-After"] == str(int(cconfig.web.console.login_delay_seconds))
    # Even the right password must wait now.
    resp = await change(ALICE[1])
    assert resp.status == 429 and "Retry-After" in resp.headers
    assert passwords.verify((await User.get(username="alice")).password_hash, ALICE[1])


async def test_usernames_are_ascii_case_insensitive_and_never_cut(
    cclient: Client, cconfig: Config
) -> None:
    token = await login(cclient, *ROOT)
    for name, problem in (
        ("Carol", "用户名已存在：carol"),
        ("саrol", "只能用英文字母"),  # Cyrillic look-alikes
        ("ｃａｒｏｌ２", "只能用英文字母"),  # full-width
        ("x" * 65, "现为 65 个"),
    ):
        resp = await cclient.post(
            "/console/users", data={"_csrf": token, "username": name, "roles": "editor"}
        )
        assert resp.status == 422, name
        assert problem in await resp.text(), name
    resp = await cclient.post("/console/users", data={"_csrf": token, "username": "zed"})
    assert "请至少选择一个角色" in await resp.text()
    resp = await cclient.post(
        "/console/users", data={"_csrf": token, "username": "zed", "roles": "boss"}
    )
    assert "角色无效：boss；可选：编辑（editor）" in await resp.text()
    assert await User.filter(username__in=["Carol", "zed"]).count() == 0
