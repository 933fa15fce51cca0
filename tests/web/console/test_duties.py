"""三员分立 over a real server and database: an auditor reads the audit log (console and API)
and nothing else — every other console route and API route refuses them, the menu shows only
审计日志 and the console's home sends them there; an admin without the auditor role cannot
read the audit log, unless `[staff] separate_duties = false` merges the duties."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import bot.web.console
from bot import users
from bot.config import Config, StaffConfig
from bot.models import Role, User
from bot.web.api import routes as api_routes
from bot.web.console.core import LOGOUT, PASSWORD_PAGE, Route
from tests.conftest import Staff, add_test_user
from tests.web.console.test_auth import client_for, in_review, login

Client = TestClient[web.Request, web.Application]
AUDREY = ("audrey", "Pw-audit-2026")  # an auditor and nothing else
VERIFY = "/api/v1/audit/verify"
_NAV = re.compile(r'<nav class="menu".*?</nav>', re.S)


def console_routes() -> list[Route]:
    """Every console route as declared, from each page module of bot/web/console/."""
    found: list[Route] = []
    for module in pkgutil.iter_modules(bot.web.console.__path__):
        declared = getattr(importlib.import_module(f"bot.web.console.{module.name}"), "ROUTES", [])
        found += [r for r in declared if isinstance(r, Route)]
    return found


def concrete(path: str, item_id: int) -> str:
    return re.sub(r"\{[^}]+\}", str(item_id), path)


def menu(html: str) -> list[str]:
    """The hrefs of the console's main menu on a page."""
    match = _NAV.search(html)
    return re.findall(r'href="([^"]+)"', match.group(0)) if match else []


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def auditor_token(cstaff: Staff) -> str:
    """audrey, an auditor only, with a password and an API token."""
    await add_test_user(AUDREY[0], ["auditor"], AUDREY[1], "system:test")
    _, plain = await users.add_token(AUDREY[0], "audit", None, "system:test")
    return plain


@pytest.fixture
async def merged(cconfig: Config, cstaff: Staff) -> AsyncIterator[Client]:
    """A client of an app whose configuration merges the duties (a small office)."""
    config = cconfig.model_copy(update={"staff": StaffConfig(separate_duties=False)})
    client = await client_for(config)
    yield client
    await client.close()


def test_only_the_audit_log_admits_an_auditor_and_no_route_is_open_by_accident() -> None:
    routes = console_routes()
    assert len(routes) > 30  # every page module was found
    audit_log = {"/console/audit", "/console/audit.csv"}  # the log and its CSV export
    assert {r.path for r in routes if Role.AUDITOR in r.roles} == audit_log
    # Open to any signed-in user, the auditor included: logging out, changing one's password.
    assert {r.path for r in routes if not r.roles} <= {LOGOUT, PASSWORD_PAGE}


async def test_an_auditors_home_is_the_audit_log_and_the_menu_shows_only_it(
    cclient: Client, auditor_token: str
) -> None:
    await login(cclient, *AUDREY)
    home = await cclient.get("/console/", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == "/console/audit"
    assert home.headers["X-Frame-Options"] == "DENY"  # the console's headers on the redirect
    page = await cclient.get("/console/audit")
    assert page.status == 200
    html = await page.text()
    assert "哈希链校验通过" in html
    assert menu(html) == ["/console/audit"]


async def test_an_auditor_is_refused_every_other_console_route(
    cclient: Client, cconfig: Config, cstaff: Staff, auditor_token: str
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, *AUDREY)
    checked = 0
    for route in console_routes():
        if not route.roles or Role.AUDITOR in route.roles or route.path == "/console/":
            continue
        path = concrete(route.path, item.id)
        resp = await cclient.request(
            route.method,
            path,
            data={"_csrf": token},
            headers={"X-CSRF-Token": token},
            allow_redirects=False,
        )
        assert resp.status == 403, (route.method, path, resp.status)
        assert "没有权限" in await resp.text(), (route.method, path)  # the role, not the CSRF
        checked += 1
    assert checked > 30


# Bodies that pass validation, so the role check is what answers.
API_BODIES: dict[str, dict[str, Any]] = {
    "create_item": {"kind": "notice", "title": "通知", "body": "正文。"},
    "review_draft": {"kind": "notice", "title": "通知", "body": "正文。"},
    "edit_item": {"title": "改过的标题"},
    "return_item": {"reason": "理由"},
    "retract_item": {"reason": "理由"},
    "override_finding": {"reason": "理由"},
    "schedule_item": {"publish_at": None},
    "set_validity": {"validity": "expired", "reason": "理由"},
    "close_matter_task": {"item_id": 1, "note": "流程已改进"},
    "reply_all_matter_task": {},
}


async def test_the_api_gives_an_auditor_the_audit_check_and_nothing_else(
    cclient: Client, cconfig: Config, cstaff: Staff, auditor_token: str
) -> None:
    item = await in_review(cconfig, cstaff)
    resp = await cclient.get(VERIFY, headers=bearer(auditor_token))
    assert resp.status == 200 and (await resp.json())["ok"] is True
    checked = 0
    for route in api_routes.ROUTES:
        if not route.auth or route.handler is api_routes.verify_audit:
            continue
        body = API_BODIES[route.operation_id] if route.body is not None else None
        path = concrete(route.path, item.id)
        resp = await cclient.request(route.method, path, json=body, headers=bearer(auditor_token))
        answer = await resp.json()
        assert resp.status == 403, (route.method, path, answer)
        assert answer["error"]["code"] == "forbidden"
        checked += 1
    assert checked == len(api_routes.ROUTES) - 2


async def test_an_admin_without_the_auditor_role_cannot_read_the_audit_log(
    cclient: Client, cstaff: Staff
) -> None:
    await login(cclient, "root", "Pw-romeo-2026")
    page = await cclient.get("/console/audit")
    assert page.status == 403
    assert "审计员（auditor）" in await page.text()
    assert "/console/audit" not in menu(await (await cclient.get("/console/")).text())
    _, plain = await users.add_token("root", "ops", None, "system:test")
    resp = await cclient.get(VERIFY, headers=bearer(plain))
    assert resp.status == 403


async def test_no_account_is_admin_and_auditor_while_duties_are_separate(
    cclient: Client, cstaff: Staff
) -> None:
    with pytest.raises(users.UserError, match="三员分立"):
        await users.set_roles("root", ["admin", "auditor"], "system:test")
    # Nor does an admin make anyone an auditor in the console, or learn an auditor's password.
    token = await login(cclient, "root", "Pw-romeo-2026")
    alice = await User.get(username="alice")
    resp = await cclient.post(
        f"/console/users/{alice.id}/roles",
        data={"_csrf": token, "roles": ["editor", "auditor"]},
    )
    assert resp.status == 403 and "三员分立" in await resp.text()
    resp = await cclient.post(
        "/console/users", data={"_csrf": token, "username": "aud2", "roles": "auditor"}
    )
    assert resp.status == 403 and not await User.filter(username="aud2").exists()
    await add_test_user("audrey", ["auditor"], "Audit-trail-2026", "cli:ops")
    audrey = await User.get(username="audrey")
    resp = await cclient.post(f"/console/users/{audrey.id}/reset-password", data={"_csrf": token})
    assert resp.status == 403 and "secret" not in await resp.text()
    assert (await User.get(username="alice")).roles == ["editor"]


async def test_a_merged_account_reads_it(cclient: Client, cstaff: Staff) -> None:
    await users.set_roles("root", ["admin", "auditor"], "system:test", separate_duties=False)
    await login(cclient, "root", "Pw-romeo-2026")
    assert (await cclient.get("/console/audit")).status == 200
    html = await (await cclient.get("/console/")).text()
    assert "/console/audit" in menu(html) and "/console/" in menu(html)


async def test_with_merged_duties_an_admin_reads_the_audit_log(
    merged: Client, cstaff: Staff
) -> None:
    await login(merged, "root", "Pw-romeo-2026")
    page = await merged.get("/console/audit")
    assert page.status == 200 and "哈希链校验通过" in await page.text()
    assert "/console/audit" in menu(await (await merged.get("/console/")).text())
    _, plain = await users.add_token("root", "ops", None, "system:test")
    resp = await merged.get(VERIFY, headers=bearer(plain))
    assert resp.status == 200 and (await resp.json())["ok"] is True
    # Merging gives the admin the auditor's role, and nobody else anything.
    await login(merged, "alice", "Pw-alpha-2026")
    assert (await merged.get("/console/audit")).status == 403
