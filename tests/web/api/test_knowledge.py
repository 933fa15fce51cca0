"""GET /api/v1/knowledge over a real aiohttp server on 127.0.0.1, on SQLite and PostgreSQL: a
token made with the knowledge scope pages through JSON Lines by X-Next-Cursor and finds every
FAQ and 选登 entry once; `since` gives only what changed, tombstones included; the scope reads
this and nothing else, and a token without it or a staff role is refused; bad parameters get
the API's Chinese JSON error naming the parameter; the OpenAPI document says all of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db, users
from bot.actors import Actor
from bot.config import Config
from bot.inbox import qa
from bot.items import lifecycle
from bot.models import ApiToken, AuditEvent
from bot.outbox.channel_set import retract_support
from bot.staff.passwords import UserError
from bot.web.app import create_app
from tests.conftest import Staff, add_test_user, create_staff, make_config
from tests.search.test_export import FAQS, faq, moderator, selected
from tests.search.test_index import published

Client = TestClient[web.Request, web.Application]
PATH = "/api/v1/knowledge"


@dataclass
class Env:
    config: Config
    staff: Staff
    mod: Actor
    city: str  # a token with the knowledge scope (alice's: an editor, yet it is no editor)
    moderator: str  # mia's own token (her roles)
    auditor: str  # audrey's: an auditor reads the audit log and nothing else


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[Env]:
    config = make_config(backend_url, search={"knowledge_settle_seconds": 0})
    await db.init(config, check_schema=False)
    await db.upgrade()
    try:
        staff = await create_staff()
        mod = await moderator()
        await add_test_user("audrey", ["auditor"], "Pw-audit-2026", "system:test")
        _, city = await users.add_token("alice", "city", None, "system:test", ["knowledge"])
        _, mine = await users.add_token("mia", "mia", None, "system:test")
        _, audit = await users.add_token("audrey", "audrey", None, "system:test")
        yield Env(config, staff, mod, city, mine, audit)
    finally:
        await db.close()


@pytest.fixture
async def api(env: Env) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(env.config), host="127.0.0.1")) as client:
        yield client


async def lines(api: Client, token: str, **params: str) -> tuple[list[dict[str, Any]], str]:
    resp = await api.get(PATH, params=params, headers=auth(token))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/x-ndjson" and resp.charset == "utf-8"
    text = await resp.text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()], resp.headers.get("X-Next-Cursor", "")


async def every_page(api: Client, token: str, limit: int, **params: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(100):
        records, cursor = await lines(api, token, limit=str(limit), **params)
        out += records
        if len(records) < limit:
            return out
        params = {"after": cursor}  # the cursor alone goes on from where the page ended
    raise AssertionError("the export did not end")


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


async def test_the_knowledge_token_pages_through_every_faq_and_qa_entry_once(
    env: Env, api: Client
) -> None:
    faqs = [await faq(q, a) for q, a in FAQS]
    entries = [
        await selected(env.config, env.mod, "请问公开目录在哪里查询？", "在网站首页查询。"),
        await selected(env.config, env.mod, "周末提交的申请何时受理？", "顺延至下一个工作日。"),
    ]
    item = await published(env.config, env.staff)
    records = await every_page(api, env.city, limit=2)
    keys = [r["key"] for r in records]
    assert sorted(keys) == sorted(
        [f"faq:{f.id}" for f in faqs] + [f"qa:{e.id}" for e in entries] + [f"item:{item.id}"]
    )
    base = env.config.app.public_base_url
    for record in records:
        assert record["url"].startswith(base + "/") and record["question"] and record["answer"]
        assert datetime.fromisoformat(record["updated_at"]).tzinfo is not None
    # A staff member who may read items reads it too (all of it is public).
    assert len(await every_page(api, env.moderator, limit=200)) == len(records)


async def test_since_returns_only_what_changed_with_tombstones(env: Env, api: Client) -> None:
    kept = await faq(*FAQS[0])
    item = await published(env.config, env.staff)
    entry = await selected(env.config, env.mod, "请问公开目录在哪里查询？", "在网站首页查询。")
    since = datetime.now(UTC).astimezone().isoformat()  # local offset: "+" travels as %2B
    records, cursor = await lines(api, env.city, since=since)
    assert records == [] and cursor == ""

    await lifecycle.retract(item.id, env.staff.reviewer, "撤回", retract_support(env.config))
    await qa.withdraw(entry.id, env.mod, "答复内容已过时")
    records, cursor = await lines(api, env.city, since=since)
    assert records == [
        {"key": f"item:{item.id}", "removed": True, "updated_at": records[0]["updated_at"]},
        {"key": f"qa:{entry.id}", "removed": True, "updated_at": records[1]["updated_at"]},
    ]
    # Going on from that cursor later: nothing more has changed.
    assert await lines(api, env.city, after=cursor) == ([], cursor)
    assert f"faq:{kept.id}" not in {r["key"] for r in records}


async def test_the_knowledge_scope_reads_this_and_nothing_else(env: Env, api: Client) -> None:
    resp = await api.get("/api/v1/items", headers=auth(env.city))
    error = error_of(await resp.json())
    assert resp.status == 403 and "没有权限" in error["message"]
    resp = await api.post(
        "/api/v1/items",
        json={"kind": "notice", "title": "令牌不该能建稿", "office": "办公室"},
        headers=auth(env.city),
    )
    assert resp.status == 403
    resp = await api.get("/api/v1/audit/verify", headers=auth(env.city))
    assert resp.status == 403
    token = await ApiToken.get(name="city")
    assert (token.roles, token.scopes) == ([], ["knowledge"])
    event = await AuditEvent.filter(action="token.add").order_by("id").first()
    assert event is not None and event.details["scopes"] == ["knowledge"]


async def test_a_token_without_the_scope_or_a_reading_role_is_refused_403(
    env: Env, api: Client
) -> None:
    resp = await api.get(PATH, headers=auth(env.auditor))
    error = error_of(await resp.json())
    assert resp.status == 403 and "knowledge" in error["message"]
    assert (await api.get(PATH)).status == 401


async def test_a_scope_is_known_and_not_mixed_with_roles(env: Env) -> None:
    with pytest.raises(UserError, match="用途范围无效"):
        await users.add_token("alice", "x", None, "system:test", ["everything"])
    with pytest.raises(UserError, match="不能同时指定"):
        await users.add_token("alice", "x", ["editor"], "system:test", ["knowledge"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "不是游标"}, "after"),
        ({"after": "MC4w"}, "after"),
        ({"since": "2026-12-01T09:00:00"}, "since"),
        ({"since": "昨天"}, "since"),
        ({"since": "1700000000"}, "since"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "十"}, "limit"),
        ({"page": "2"}, "page"),
    ],
)
async def test_a_bad_parameter_gets_a_chinese_json_error_naming_it(
    env: Env, api: Client, params: dict[str, str], field: str
) -> None:
    resp = await api.get(PATH, params=params, headers=auth(env.city))
    error = error_of(await resp.json())
    assert resp.status == 422 and error["code"] == "validation_failed"
    assert [f["field"] for f in error["fields"]] == [field]
    assert f"{field}：" in error["message"] and "查询参数" in error["message"]


async def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(
    env: Env, api: Client
) -> None:
    await faq(*FAQS[0])
    records, _ = await lines(api, env.city, since="2000-01-01T08:00:00 08:00")
    assert len(records) == 1


async def test_the_openapi_document_describes_json_lines_the_cursor_and_the_record(
    env: Env, api: Client
) -> None:
    doc = await (await api.get("/api/v1/openapi.json")).json()
    op = doc["paths"][PATH]["get"]
    ok = op["responses"]["200"]
    assert list(ok["content"]) == ["application/x-ndjson"]
    assert ok["content"]["application/x-ndjson"]["schema"] == {
        "$ref": "#/components/schemas/KnowledgeRecord"
    }
    assert "X-Next-Cursor" in ok["headers"]
    assert {p["name"] for p in op["parameters"]} == {"limit", "after", "since"}
    assert set(op["responses"]) == {"200", "401", "403", "422"}
    record = doc["components"]["schemas"]["KnowledgeRecord"]
    live, tomb = record["oneOf"]
    assert set(live["required"]) == {
        "key",
        "kind",
        "question",
        "answer",
        "url",
        "office",
        "updated_at",
    }
    assert tomb["properties"]["removed"]["const"] is True
