"""WeChat's draft/add limits at pre-review (bot/items/prereview.py with bot/items/render.py): a
title over 32 characters asks for a 微信标题 before approval instead of failing on delivery,
WeChat shows the 微信标题 while other channels keep the title, and the content limit is
measured on the rendered HTML, not the Markdown. On SQLite and, when configured, PostgreSQL
(so the wechat_title migration is exercised on both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import db
from bot.config import Config, parse_config
from bot.items import lifecycle
from bot.items.render import Renderer
from bot.items.schemas import ItemCreate, ItemPatch
from bot.models import Delivery, Finding, Item, ItemVersion
from tests.conftest import Staff, create_staff

TITLE_33 = "关于进一步做好2026年国庆节期间全市各政务服务大厅窗口开放的通知"
WECHAT_TITLE = "国庆节期间政务服务大厅开放安排"


def wechat_config(db_url: str, **wechat: Any) -> Config:
    return parse_config(
        {
            "database": {"url": db_url},
            "channels": {"wechat": {"enabled": True, "app_id": "wx-test", **wechat}},
        },
        "test",
        environ={"GONGKAI_WECHAT_SECRET": "test-secret", "GONGKAI_AUTHOR_KEY": "test-author-key"},
    )


@pytest.fixture
async def config(backend_url: str) -> AsyncIterator[Config]:
    cfg = wechat_config(backend_url)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def staff(config: Config) -> Staff:
    return await create_staff()


def notice(**overrides: object) -> ItemCreate:
    data: dict[str, object] = {
        "kind": "notice",
        "title": TITLE_33,
        "body": "国庆节期间，办事大厅10月1日至7日暂停线下服务，网上办理渠道正常开放。",
        "office": "办公室",
        "channels": ["feed", "wechat"],
    }
    data.update(overrides)
    return ItemCreate.model_validate(data)


async def test_33_character_title_is_returned_asking_for_a_wechat_title_not_delivered(
    config: Config, staff: Staff
) -> None:
    assert len(TITLE_33) == 33
    item = await lifecycle.create_item(notice(), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "returned"
    finding = await Finding.get(item_id=item.id, stage="submit", rule="channel_limits.title")
    assert (finding.severity, finding.field) == ("block", "title")
    assert finding.message == (
        "标题超过微信公众号 32 字的限制（当前 33 字），请填写不超过 32 字的“微信标题”。"
    )
    assert await Delivery.filter(item_id=item.id).count() == 0


async def test_with_a_wechat_title_the_item_passes_and_only_wechat_shows_it(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(wechat_title=WECHAT_TITLE), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert not [f for f in outcome.findings if f.rule.startswith("channel_limits")]
    assert outcome.item.status == "in_review"
    await lifecycle.approve(item.id, staff.reviewer, config)
    channels = await Delivery.filter(item_id=item.id).values_list("channel", flat=True)
    assert sorted(channels) == ["feed", "wechat"]

    version = await ItemVersion.get(item_id=item.id, version=1)
    assert version.snapshot["wechat_title"] == WECHAT_TITLE
    renderer = Renderer(config)
    assert renderer.render(version.snapshot, "wechat").title == WECHAT_TITLE
    assert renderer.render(version.snapshot, "feed").title == TITLE_33
    assert renderer.render(version.snapshot, "webhook").title == TITLE_33


async def test_a_wechat_title_over_the_limit_is_a_finding_on_that_field(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(
        notice(title="短标题的通知", wechat_title=TITLE_33), staff.editor, config
    )
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "returned"
    [finding] = [f for f in outcome.findings if f.rule.startswith("channel_limits")]
    assert (finding.field, finding.severity) == ("wechat_title", "block")
    assert "微信标题" in finding.message and "33" in finding.message


async def test_an_edit_adding_the_wechat_title_clears_the_finding(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.edit_item(
        item.id, ItemPatch(wechat_title=f"  {WECHAT_TITLE} "), staff.editor, config
    )
    assert (await Item.get(id=item.id)).wechat_title == WECHAT_TITLE
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"


async def test_body_under_20000_markdown_characters_but_over_as_html_is_blocked(
    config: Config, staff: Staff
) -> None:
    body = "各处室：\n\n" + "".join(f"- 第{i}项\n" for i in range(1, 2201))
    assert len(body) < 20_000
    html = (
        Renderer(config)
        .render({**notice(body=body).model_dump(mode="json"), "id": 1, "version": 1}, "wechat")
        .html
    )
    assert len(html) >= 20_000
    item = await lifecycle.create_item(
        notice(wechat_title=WECHAT_TITLE, body=body), staff.editor, config
    )
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "returned"
    [finding] = [f for f in outcome.findings if f.rule == "channel_limits.content"]
    assert (finding.field, finding.severity) == ("body", "block")
    assert "微信公众号" in finding.message and "20,000 字符" in finding.message
    assert f"{len(html):,} 字符" in finding.message


async def test_limits_come_from_the_configuration(backend_url: str) -> None:
    cfg = wechat_config(backend_url, title_max=40, content_max_chars=50)
    assert wechat_config(backend_url).channels.wechat.title_max == 32
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        staff = await create_staff()
        item = await lifecycle.create_item(notice(), staff.editor, cfg)
        outcome = await lifecycle.submit(item.id, staff.editor, cfg)
        rules = {f.rule for f in outcome.findings}
        assert "channel_limits.title" not in rules
        assert "channel_limits.content" in rules
    finally:
        await db.close()
