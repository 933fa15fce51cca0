"""The JSON API over a real aiohttp server on 127.0.0.1 and a real SQLite database: the item
flow, auth and roles, JSON errors (and that a refused request writes nothing), and that the
OpenAPI document matches the routes the server answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import users
from bot.config import Config
from bot.models import ApiToken, AuditEvent, Delivery, DeliveryStatus, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app
from bot.web.keys import WAKEUP
from tests.conftest import Staff, add_test_user

Client = TestClient[web.Request, web.Application]

NOTICE = {
    "kind": "notice",
    "title": "关于开展2021年政务公开工作的通知",
    "body": "各处室：\n\n请按照工作要点做好政务公开工作。",
    "office": "办公室",
}


@dataclass
class Tokens:
    editor: str  # alice
    reviewer: str  # bob
    editor2: str  # carol, editor and reviewer
    admin: str  # root
    auditor: str  # audrey, an auditor only (三员分立)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def tokens(staff: Staff) -> Tokens:
    made = []
    await add_test_user("audrey", ["auditor"], None, "system:test")
    for name in ("alice", "bob", "carol", "root", "audrey"):
        _, plain = await users.add_token(name, "test", None, "system:test")
        made.append(plain)
    return Tokens(*made)


@pytest.fixture
async def api(config: Config, tokens: Tokens) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        yield client


async def counts() -> tuple[int, int, int]:
    return await Item.all().count(), await AuditEvent.all().count(), await Delivery.all().count()


async def create(api: Client, token: str, **fields: Any) -> dict[str, Any]:
    resp = await api.post("/api/v1/items", json={**NOTICE, **fields}, headers=auth(token))
    assert resp.status == 201, await resp.text()
    item: dict[str, Any] = (await resp.json())["item"]
    return item


async def in_review(api: Client, token: str, **fields: Any) -> int:
    item = await create(api, token, **fields)
    resp = await api.post(f"/api/v1/items/{item['id']}/submit", headers=auth(token))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["item"]["status"] == "in_review"
    return int(item["id"])


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] and error["message"]
    return error


# ---- the flow ------------------------------------------------------------------------------


async def test_full_flow_create_submit_approve_writes_deliveries_and_wakes_dispatcher(
    api: Client, tokens: Tokens, config: Config
) -> None:
    woken = api.app[WAKEUP].subscribe()
    item = await create(api, tokens.editor)
    assert item["status"] == "draft" and item["status_label"] == "草稿"
    assert item["column"] == "notice"

    resp = await api.post(f"/api/v1/items/{item['id']}/submit", headers=auth(tokens.editor))
    body = await resp.json()
    assert resp.status == 200
    assert body["item"]["status"] == "in_review" and body["item"]["status_label"] == "待审核"
    assert not woken.is_set()

    resp = await api.post(f"/api/v1/items/{item['id']}/approve", headers=auth(tokens.reviewer))
    body = await resp.json()
    assert resp.status == 200, body
    assert body["item"]["status"] == "approved" and body["item"]["status_label"] == "已批准"
    assert [d["channel"] for d in body["deliveries"]] == config.channels.enabled_names()
    assert woken.is_set()  # the in-process dispatcher is told at once

    resp = await api.get(f"/api/v1/items/{item['id']}", headers=auth(tokens.reviewer))
    detail = await resp.json()
    assert detail["deliveries"]["total"] == 1
    assert detail["deliveries"]["by_status"] == {"pending": 1}
    assert detail["item"]["body"] == NOTICE["body"]
    assert await Delivery.filter(item_id=item["id"]).count() == 1


async def test_times_are_iso_8601_utc(api: Client, tokens: Tokens) -> None:
    item = await create(api, tokens.editor, publish_at="2031-05-01T17:00:00+08:00")
    assert item["publish_at"] == "2031-05-01T09:00:00Z"
    created = datetime.fromisoformat(item["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


async def test_author_with_reviewer_role_cannot_approve_own_item(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor2)  # carol writes it
    before = await counts()
    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.editor2))
    error = error_of(await resp.json())
    assert resp.status == 403 and error["code"] == "self_approval"
    assert "自己" in error["message"]
    assert await counts() == before
    assert (await Item.get(id=item_id)).status == "in_review"


async def test_approving_twice_is_409_and_leaves_one_set_of_deliveries(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)
    url = f"/api/v1/items/{item_id}/approve"
    assert (await api.post(url, headers=auth(tokens.reviewer))).status == 200
    before = await counts()
    resp = await api.post(url, headers=auth(tokens.reviewer))
    error = error_of(await resp.json())
    assert resp.status == 409 and error["code"] == "illegal_transition"
    assert "已批准" in error["message"]
    assert await counts() == before
    assert await Delivery.filter(item_id=item_id).count() == 1


async def test_return_needs_a_reason_and_sends_the_item_back(api: Client, tokens: Tokens) -> None:
    item_id = await in_review(api, tokens.editor)
    url = f"/api/v1/items/{item_id}/return"
    resp = await api.post(url, json={"reason": ""}, headers=auth(tokens.reviewer))
    assert resp.status == 422
    assert error_of(await resp.json())["fields"][0]["field"] == "reason"
    resp = await api.post(url, json={"reason": "缺少文号"}, headers=auth(tokens.reviewer))
    item = (await resp.json())["item"]
    assert resp.status == 200
    assert item["status_label"] == "已退文" and item["return_reason"] == "缺少文号"


async def test_schedule_after_approval_moves_deliveries_and_wakes_dispatcher(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)
    await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    woken = api.app[WAKEUP].subscribe()
    resp = await api.post(
        f"/api/v1/items/{item_id}/schedule",
        json={"publish_at": "2031-01-02T08:00:00+08:00"},
        headers=auth(tokens.reviewer),
    )
    item = (await resp.json())["item"]
    assert resp.status == 200
    assert item["status"] == "scheduled" and item["publish_at"] == "2031-01-02T00:00:00Z"
    delivery = await Delivery.get(item_id=item_id)
    assert delivery.due_at == datetime(2031, 1, 2, tzinfo=UTC)
    assert woken.is_set()


async def test_schedule_without_time_zone_is_422_naming_publish_at(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor)
    before = await counts()
    resp = await api.post(
        f"/api/v1/items/{item['id']}/schedule",
        json={"publish_at": "2031-01-02T08:00:00"},
        headers=auth(tokens.editor),
    )
    error = error_of(await resp.json())
    assert resp.status == 422
    assert error["fields"][0]["field"] == "publish_at" and "时区" in error["fields"][0]["message"]
    assert await counts() == before


async def test_retract_reports_channels_that_cannot_retract(
    api: Client, tokens: Tokens, config: Config
) -> None:
    # The item also went to the webhook channel, which has since been disabled: it cannot
    # take a retraction any more, and the response must say so.
    item_id = await in_review(api, tokens.editor)
    await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    assert (await Delivery.get(item_id=item_id, channel="feed")).status == "done"
    now = datetime.now(UTC)
    await Delivery.create(  # its publication on the webhook channel, before it was disabled
        item_id=item_id,
        item_version=1,
        channel="webhook",
        status=DeliveryStatus.DONE.value,
        due_at=now,
        next_attempt_at=now,
        finished_at=now,
        remote_id="r1",
    )
    woken = api.app[WAKEUP].subscribe()
    resp = await api.post(
        f"/api/v1/items/{item_id}/retract",
        json={"reason": "内容有误"},
        headers=auth(tokens.reviewer),
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["item"]["status_label"] == "已撤稿"
    assert body["cannot_retract"] == ["webhook"] and "webhook" in body["message"]
    assert woken.is_set()
    resp = await api.get(f"/api/v1/items/{item_id}/deliveries", headers=auth(tokens.editor))
    rows = (await resp.json())["deliveries"]
    assert [(d["channel"], d["action"]) for d in rows if d["action"] == "retract"] == [
        ("feed", "retract")
    ]


async def test_editing_an_approved_item_makes_a_new_draft_version(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)
    await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    resp = await api.patch(
        f"/api/v1/items/{item_id}", json={"summary": "新摘要"}, headers=auth(tokens.editor)
    )
    item = (await resp.json())["item"]
    assert resp.status == 200
    assert (item["version"], item["status"], item["summary"]) == (2, "draft", "新摘要")
    assert (await Delivery.get(item_id=item_id)).status == DeliveryStatus.CANCELLED.value


# ---- listing -------------------------------------------------------------------------------


async def test_list_items_filters_by_status_kind_and_column_and_pages(
    api: Client, tokens: Tokens
) -> None:
    first = await create(api, tokens.editor)
    second = await in_review(api, tokens.editor)
    await create(api, tokens.editor, kind="consultation", title="征求意见")
    h = auth(tokens.reviewer)

    body = await (await api.get("/api/v1/items", params={"status": "in_review"}, headers=h)).json()
    assert [i["id"] for i in body["items"]] == [second] and body["total"] == 1
    assert "body" not in body["items"][0]  # the list is a summary
    body = await (await api.get("/api/v1/items", params={"kind": "notice"}, headers=h)).json()
    assert body["total"] == 2
    body = await (
        await api.get("/api/v1/items", params={"column": "consultation"}, headers=h)
    ).json()
    assert [i["title"] for i in body["items"]] == ["征求意见"]
    body = await (
        await api.get("/api/v1/items", params={"limit": 1, "offset": 2}, headers=h)
    ).json()
    assert [i["id"] for i in body["items"]] == [first["id"]] and body["total"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "1000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"status": "done"}, "status"),
        ({"limit": "ten"}, "limit"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_list_items_rejects_bad_query_with_422_naming_the_parameter(
    api: Client, tokens: Tokens, params: dict[str, str], field: str
) -> None:
    resp = await api.get("/api/v1/items", params=params, headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 422
    assert error["fields"][0]["field"] == field
    assert field in error["message"]


async def test_list_deliveries_filters_by_status_and_channel(api: Client, tokens: Tokens) -> None:
    item_id = await in_review(api, tokens.editor)
    await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    h = auth(tokens.editor)
    body = await (
        await api.get("/api/v1/deliveries", params={"status": "pending"}, headers=h)
    ).json()
    assert body["total"] == 1 and body["deliveries"][0]["status_label"] == "待发送"
    assert body["deliveries"][0]["item_id"] == item_id
    body = await (
        await api.get("/api/v1/deliveries", params={"channel": "webhook"}, headers=h)
    ).json()
    assert body["total"] == 0


# ---- validation and malformed requests: 4xx and nothing written --------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"kind": "notice", "body": "正文"}, "title", "缺少必填字段"),
        ({**NOTICE, "title": 123}, "title", "应为文本"),
        ({**NOTICE, "related_id": "abc"}, "related_id", "应为整数"),
        ({**NOTICE, "kind": "memo"}, "kind", "取值无效"),
        ({**NOTICE, "colour": "red"}, "colour", "未知字段"),
        ({**NOTICE, "title": "   "}, "title", "标题不能为空"),
        ({**NOTICE, "channels": ["fax"]}, "channels", "渠道「fax」不存在"),
    ],
)
async def test_create_with_bad_fields_is_422_naming_the_field_and_writes_nothing(
    api: Client, tokens: Tokens, payload: dict[str, Any], field: str, message: str
) -> None:
    before = await counts()
    resp = await api.post("/api/v1/items", json=payload, headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 422
    assert error["fields"][0]["field"] == field
    assert message in error["fields"][0]["message"]
    assert await counts() == before


async def test_patch_with_unknown_field_is_422_and_changes_nothing(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor)
    before = await counts()
    resp = await api.patch(
        f"/api/v1/items/{item['id']}", json={"status": "published"}, headers=auth(tokens.editor)
    )
    assert resp.status == 422
    assert error_of(await resp.json())["fields"][0]["field"] == "status"
    assert await counts() == before
    assert (await Item.get(id=item["id"])).status == "draft"


async def test_empty_patch_is_422_and_does_not_send_the_item_back_to_draft(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)
    before = await counts()
    resp = await api.patch(f"/api/v1/items/{item_id}", json={}, headers=auth(tokens.editor))
    assert resp.status == 422
    assert error_of(await resp.json())["fields"][0]["field"] == "(body)"
    assert await counts() == before
    assert (await Item.get(id=item_id)).status == "in_review"


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"kind": "notice",\n "title": }', "第 2 行第 11 列"),
        (b"{'kind': 1}", "第 1 行第 2 列"),
        (b'{"title": NaN}', "NaN"),
        (b"", "请求体为空"),
        (b"\xff\xfe{}", "UTF-8"),
    ],
)
async def test_malformed_json_is_400_naming_the_problem_and_writes_nothing(
    api: Client, tokens: Tokens, raw: bytes, where: str
) -> None:
    before = await counts()
    resp = await api.post(
        "/api/v1/items",
        data=raw,
        headers={**auth(tokens.editor), "Content-Type": "application/json"},
    )
    error = error_of(await resp.json())
    assert resp.status == 400
    assert where in error["message"]
    assert await counts() == before


@pytest.mark.parametrize("payload", [[NOTICE], "notice", 42, None])
async def test_body_that_is_not_an_object_is_422(api: Client, tokens: Tokens, payload: Any) -> None:
    before = await counts()
    resp = await api.post(
        "/api/v1/items", data=json.dumps(payload), headers={**auth(tokens.editor)}
    )
    error = error_of(await resp.json())
    assert resp.status == 422 and error["code"] == "body_not_object"
    assert await counts() == before


async def test_oversize_body_is_413_before_reading_and_writes_nothing(
    api: Client, tokens: Tokens, config: Config
) -> None:
    before = await counts()
    big = {**NOTICE, "body": "字" * config.web.max_body_bytes}
    resp = await api.post("/api/v1/items", json=big, headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 413 and error["code"] == "body_too_large"
    assert str(config.web.max_body_bytes) in error["message"]
    assert await counts() == before


async def test_oversize_chunked_body_without_length_is_413_and_writes_nothing(
    api: Client, tokens: Tokens, config: Config
) -> None:
    before = await counts()
    payload = json.dumps({**NOTICE, "body": "x" * (config.web.max_body_bytes + 10)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    resp = await api.post("/api/v1/items", data=chunks(), headers=auth(tokens.editor))
    assert resp.status == 413
    assert error_of(await resp.json())["code"] == "body_too_large"
    assert await counts() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/items/9999"),
        ("PATCH", "/api/v1/items/9999"),
        ("POST", "/api/v1/items/9999/submit"),
        ("GET", "/api/v1/items/9999/deliveries"),
        ("GET", "/api/v1/items/abc"),
        ("GET", "/api/v1/items/99999999999999999999"),
    ],
)
async def test_unknown_item_id_is_404(api: Client, tokens: Tokens, method: str, path: str) -> None:
    body = {"title": "新标题"} if method == "PATCH" else None
    resp = await api.request(method, path, json=body, headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 404 and error["code"] == "item_not_found"
    assert "不存在" in error["message"]


async def test_unknown_route_under_api_is_404_json_and_wrong_method_is_405_json(
    api: Client, tokens: Tokens
) -> None:
    resp = await api.get("/api/v1/nothing-here", headers=auth(tokens.editor))
    assert resp.status == 404 and resp.content_type == "application/json"
    assert error_of(await resp.json())["code"] == "not_found"
    resp = await api.delete("/api/v1/items", headers=auth(tokens.editor))
    assert resp.status == 405 and resp.content_type == "application/json"
    assert error_of(await resp.json())["code"] == "method_not_allowed"
    assert set(resp.headers["Allow"].split(",")) == {"GET", "POST"}


# ---- auth and roles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer gk_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxpY2U6YWxpY2UtcHc="},
    ],
)
async def test_missing_or_invalid_token_is_401_and_writes_nothing(
    api: Client, headers: dict[str, str]
) -> None:
    before = await counts()
    resp = await api.post("/api/v1/items", json=NOTICE, headers=headers)
    error = error_of(await resp.json())
    assert resp.status == 401 and error["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert await counts() == before


async def test_revoked_token_is_401(api: Client, tokens: Tokens) -> None:
    await ApiToken.all().update(revoked_at=datetime.now(UTC))
    resp = await api.get("/api/v1/items", headers=auth(tokens.editor))
    assert resp.status == 401


async def test_role_without_permission_is_403_and_writes_nothing(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)
    before = await counts()
    resp = await api.post("/api/v1/items", json=NOTICE, headers=auth(tokens.reviewer))
    assert resp.status == 403 and error_of(await resp.json())["code"] == "forbidden"
    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 403 and "reviewer" in error["message"]
    assert await counts() == before


async def test_audit_verify_is_the_auditors_and_reports_the_intact_chain(
    api: Client, tokens: Tokens
) -> None:
    await in_review(api, tokens.editor)
    for refused in (tokens.reviewer, tokens.admin):  # 三员分立: not even an admin
        resp = await api.get("/api/v1/audit/verify", headers=auth(refused))
        assert resp.status == 403
        assert "审计员（auditor）" in error_of(await resp.json())["message"]
    resp = await api.get("/api/v1/audit/verify", headers=auth(tokens.auditor))
    body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True and body["checked"] == await AuditEvent.all().count()


async def test_audit_verify_names_the_tampered_event(api: Client, tokens: Tokens) -> None:
    await in_review(api, tokens.editor)
    victim = await AuditEvent.filter(action="item.create").first()
    assert victim is not None
    await AuditEvent.filter(id=victim.id).update(actor="user:mallory")
    body = await (await api.get("/api/v1/audit/verify", headers=auth(tokens.auditor))).json()
    assert body["ok"] is False and body["broken_id"] == victim.id
    assert "修改" in body["reason"]


# ---- the OpenAPI document ------------------------------------------------------------------


async def test_every_api_route_is_in_openapi_with_its_method_and_vice_versa(api: Client) -> None:
    resp = await api.get("/api/v1/openapi.json")  # no token needed
    doc = await resp.json()
    assert resp.status == 200 and doc["openapi"] == "3.1.0"
    registered = {
        (route.method.lower(), route.resource.canonical)
        for route in api.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/v1")
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert registered == documented
    assert len(registered) >= 13


async def test_openapi_request_bodies_and_security_come_from_the_declarations(
    api: Client,
) -> None:
    doc = await (await api.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    create_op = doc["paths"]["/api/v1/items"]["post"]
    ref = create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ItemCreate"
    assert "title" in schemas["ItemCreate"]["required"]
    assert schemas["ItemCreate"]["additionalProperties"] is False
    assert {"201", "400", "401", "403", "413", "422"} <= set(create_op["responses"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    params = {p["name"]: p for p in doc["paths"]["/api/v1/items"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200
    approve = doc["paths"]["/api/v1/items/{id}/approve"]["post"]
    assert approve["parameters"][0] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    # every $ref points at something that exists
    refs = {m for m in json.dumps(doc).split('"') if m.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)


async def test_wechat_title_is_in_the_openapi_document_and_round_trips(
    api: Client, tokens: Tokens
) -> None:
    doc = await (await api.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for name in ("ItemCreate", "ItemPatch"):
        assert "微信标题" in json.dumps(
            schemas[name]["properties"]["wechat_title"], ensure_ascii=False
        )
    item = await create(api, tokens.editor, wechat_title="2021年政务公开工作")
    assert item["wechat_title"] == "2021年政务公开工作"
    resp = await api.patch(
        f"/api/v1/items/{item['id']}", json={"wechat_title": ""}, headers=auth(tokens.editor)
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["item"]["wechat_title"] == ""
