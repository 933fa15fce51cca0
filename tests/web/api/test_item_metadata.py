"""The 主动公开目录 metadata through the JSON API (issue 23): 成文日期, 主题分类 and 发布机构 in
create, patch and the item's JSON, with errors naming the field; the 索引号 read-only, given at
the first approval; the OpenAPI document describes them."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.models import Item
from tests.web.api import test_routes as test_api
from tests.web.api.test_routes import Client, Tokens, auth, create, error_of, in_review

# The fixtures of test_routes.py, used here too.
tokens = test_api.tokens
api = test_api.api

METADATA = {"written_on": "2026-03-02", "topic": "综合政务", "publisher": "上海市地方金融管理局"}


async def test_create_patch_and_show_carry_the_metadata_and_the_index_number(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor, **METADATA)
    assert {k: item[k] for k in METADATA} == METADATA
    assert item["index_no"] is None  # given at the first approval

    url = f"/api/v1/items/{item['id']}"
    resp = await api.patch(
        url, json={"written_on": None, "topic": "其他"}, headers=auth(tokens.editor)
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["item"]["written_on"], body["item"]["topic"]) == (None, "其他")

    item_id = await in_review(api, tokens.editor)
    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    assert resp.status == 200, await resp.text()
    shown = (await (await api.get(f"/api/v1/items/{item_id}", headers=auth(tokens.editor))).json())[
        "item"
    ]
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    assert shown["index_no"] == f"GK-{year}-00001"
    assert shown["publisher"] == "公开"  # none given: the configured one (app.name here)


async def test_bad_metadata_is_refused_naming_the_field_and_nothing_is_written(
    api: Client, tokens: Tokens, config: Config
) -> None:
    before = await Item.all().count()
    resp = await api.post(
        "/api/v1/items",
        json={**test_api.NOTICE, "written_on": "2026/03/02"},
        headers=auth(tokens.editor),
    )
    error = error_of(await resp.json())
    assert resp.status == 422 and error["fields"][0]["field"] == "written_on"
    assert "成文日期" in error["fields"][0]["message"]

    resp = await api.post(
        "/api/v1/items", json={**test_api.NOTICE, "topic": "金融稳定"}, headers=auth(tokens.editor)
    )
    error = error_of(await resp.json())
    assert resp.status == 422 and error["fields"][0]["field"] == "topic"
    assert "主题分类" in error["message"] and "综合政务" in error["message"]

    resp = await api.post(
        "/api/v1/items",
        json={**test_api.NOTICE, "index_no": "GK-2026-99999"},
        headers=auth(tokens.editor),
    )
    error = error_of(await resp.json())
    assert resp.status == 422 and error["fields"][0]["field"] == "index_no"
    assert await Item.all().count() == before


async def test_the_openapi_document_describes_the_metadata_fields(api: Client) -> None:
    doc = await (await api.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for name in ("ItemCreate", "ItemPatch"):
        props = schemas[name]["properties"]
        assert {"written_on", "topic", "publisher"} <= set(props)
        assert "index_no" not in props  # read-only: never accepted
        written = json.dumps(props["written_on"], ensure_ascii=False)
        assert '"format": "date"' in written and "成文日期" in written
        assert "主题分类" in json.dumps(props["topic"], ensure_ascii=False)
