"""The API's 办事事项 and 专项回应 operations over a real server and SQLite database: the
matters and tasks read by staff (not by an auditor), closing refused with the field named
until a published response item is given, the bulk answer by moderators only and once, and
the OpenAPI document describing each answer the server gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import users
from bot.config import Config
from bot.matters.tasks import scan
from bot.web.app import create_app
from tests.conftest import Staff, add_test_user
from tests.matters.support import matters_config
from tests.scheduler.support import publish
from tests.web.console.test_inbox import ingest

Client = TestClient[web.Request, web.Application]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(config: Config, staff: Staff) -> AsyncIterator[tuple[Client, Config, dict[str, str]]]:
    cfg = matters_config(config, tasks={"complaints": 2})
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    await add_test_user("audrey", ["auditor"], None, "system:test")
    tokens = {}
    for name in ("alice", "mia", "audrey"):
        tokens[name] = (await users.add_token(name, "test", None, "system:test"))[1]
    async with TestClient(TestServer(create_app(cfg), host="127.0.0.1")) as client:
        yield client, cfg, tokens


async def test_tasks_close_with_a_published_item_and_are_answered_once(
    api: tuple[Client, Config, dict[str, str]], staff: Staff
) -> None:
    client, config, tokens = api
    now = datetime.now(UTC)
    for n in range(2):
        await ingest(config, f"营业执照第{n}次被退回", received_at=now - timedelta(days=n + 1))
    [task_id] = (await scan(config, now)).opened

    resp = await client.get("/api/v1/matters", headers=auth(tokens["alice"]))
    body = await resp.json()
    assert resp.status == 200 and body["matters"][0]["key"] == "kaiban"
    assert body["matters"][0]["messages_30d"] == 2 and body["matters"][0]["open_task"] == task_id
    resp = await client.get("/api/v1/tasks?status=open", headers=auth(tokens["alice"]))
    assert [t["id"] for t in (await resp.json())["tasks"]] == [task_id]
    resp = await client.get(f"/api/v1/tasks/{task_id}", headers=auth(tokens["alice"]))
    assert len((await resp.json())["task"]["comments"]) == 2
    assert (await client.get("/api/v1/tasks", headers=auth(tokens["audrey"]))).status == 403
    resp = await client.get("/api/v1/tasks?status=done", headers=auth(tokens["alice"]))
    assert resp.status == 422
    resp = await client.get("/api/v1/tasks/99999", headers=auth(tokens["alice"]))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "task_not_found"

    close = f"/api/v1/tasks/{task_id}/close"
    resp = await client.post(
        close, json={"item_id": 99999, "note": "一次告知"}, headers=auth(tokens["alice"])
    )
    error = (await resp.json())["error"]
    assert resp.status == 422 and error["fields"][0]["field"] == "item_id"
    resp = await client.post(close, json={"item_id": 1, "note": ""}, headers=auth(tokens["alice"]))
    assert resp.status == 422 and (await resp.json())["error"]["fields"][0]["field"] == "note"
    resp = await client.post(
        f"/api/v1/tasks/{task_id}/reply-all", json={}, headers=auth(tokens["mia"])
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "task_open"
    item = await publish(config, staff, title="关于营业执照办理的专项回应")
    resp = await client.post(
        close, json={"item_id": item.id, "note": "一次告知"}, headers=auth(tokens["alice"])
    )
    assert resp.status == 200 and (await resp.json())["task"]["status"] == "closed"
    resp = await client.post(
        close, json={"item_id": item.id, "note": "一次告知"}, headers=auth(tokens["alice"])
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "task_closed"

    reply_all = f"/api/v1/tasks/{task_id}/reply-all"
    assert (await client.post(reply_all, json={}, headers=auth(tokens["alice"]))).status == 403
    first = await client.post(reply_all, json={}, headers=auth(tokens["mia"]))
    assert first.status == 200 and len((await first.json())["answered"]["queued"]) == 2
    again = await (await client.post(reply_all, json={}, headers=auth(tokens["mia"]))).json()
    assert again["answered"]["queued"] == [] and again["answered"]["already_answered"] == 2


async def test_the_openapi_document_describes_the_matters_operations(
    api: tuple[Client, Config, dict[str, str]],
) -> None:
    client, _, _ = api
    doc = await (await client.get("/api/v1/openapi.json")).json()
    close = doc["paths"]["/api/v1/tasks/{id}/close"]["post"]
    assert {"200", "404", "409", "422"} <= set(close["responses"])
    assert doc["components"]["schemas"]["CloseBody"]["required"] == ["item_id", "note"]
    for path in ("/api/v1/matters", "/api/v1/matters/suggested", "/api/v1/tasks"):
        assert "get" in doc["paths"][path]
    assert "post" in doc["paths"]["/api/v1/tasks/{id}/reply-all"]
