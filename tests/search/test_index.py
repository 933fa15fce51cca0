"""The search index on SQLite (FTS5) and PostgreSQL (full-text), through the lifecycle and the
dispatcher: an item is found once its website delivery is done, by a word of its body; it is
gone in the commit that retracts it (a tombstone stays); its validity follows; a 选登 exchange
comes and goes with its selection; reindex rebuilds the same index; every hostile query
answers results, never an error."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item, SearchDoc
from bot.outbox.channel_set import build_channels, retract_support
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.search import index
from bot.search.engine import Filters
from bot.search.find import search
from bot.search.query import parse
from tests.conftest import Staff

BODY = (
    "各区金融工作局：\n\n为规范**融资担保机构**经营，现就小微企业贷款担保费率有关事项通知如下。"
    "\n\n一、担保费率原则上不超过百分之一点五。"
)


async def published(config: Config, staff: Staff, **fields: Any) -> Item:
    data: dict[str, Any] = {
        "kind": "notice",
        "title": "关于降低小微企业融资担保费率的通知",
        "body": BODY,
        "office": "融资担保监管处",
        "doc_number": "沪金管〔2026〕8号",
        **fields,
    }
    if data["kind"] == "policy":  # with its metadata and interpretation, or it is returned
        data = {"written_on": "2021-03-01", "topic": "综合政务", **data}
    item = await lifecycle.create_item(ItemCreate(**data), staff.editor, config)
    if item.kind == "policy":
        reading = {"kind": "interpretation", "title": f"《{item.title}》解读", "body": "解读。"}
        await lifecycle.create_item(
            ItemCreate(**reading, related_id=item.id, interpretation_forms=["图解"]),
            staff.editor,
            config,
        )
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    return await Item.get(id=item.id)


async def titles(text: str, filters: Filters | None = None) -> list[str]:
    results = await search(parse(text, 100), filters or Filters())
    return [h.doc.title for h in results.hits]


async def test_a_published_item_is_found_by_a_word_of_its_body_and_leaves_with_its_retraction(
    any_config: Config, any_staff: Staff
) -> None:
    item = await published(any_config, any_staff)
    assert item.status == "published"
    results = await search(parse("担保费率", 100), Filters())
    assert [h.doc.title for h in results.hits] == [item.title]
    assert "<mark>担保费率</mark>" in results.hits[0].snippet  # touching words marked as one
    assert results.by_kind == {"item:notice": 1}
    assert await titles("沪金管〔2026〕8号") == [item.title]  # the 文号 is searchable

    await lifecycle.retract(item.id, any_staff.reviewer, "撤回", retract_support(any_config))
    assert await titles("担保费率") == []
    tomb = await SearchDoc.get(key=f"item:{item.id}")
    assert tomb.removed_at is not None and tomb.body_tokens == ""


async def test_a_draft_or_an_approved_item_not_yet_on_the_website_is_not_found(
    any_config: Config, any_staff: Staff
) -> None:
    data = ItemCreate(kind="notice", title="尚未发布的通知", body="担保费率调整。", office="办公室")
    item = await lifecycle.create_item(data, any_staff.editor, any_config)
    await lifecycle.submit(item.id, any_staff.editor, any_config)
    await lifecycle.approve(item.id, any_staff.reviewer, any_config)
    assert await titles("担保费率") == []


async def test_validity_filters_and_every_word_else_any_word(
    any_config: Config, any_staff: Staff
) -> None:
    old = await published(any_config, any_staff, kind="policy", title="融资担保机构监管办法")
    await published(
        any_config,
        any_staff,
        title="关于小额贷款公司监管的通知",
        body="小额贷款。",
        office="办公室",
    )
    await lifecycle.set_validity(old.id, any_staff.reviewer, "repealed", "已被新办法替代")
    assert await titles("融资担保", Filters(validity="repealed")) == [old.title]
    assert old.title not in await titles("融资担保", Filters(validity="valid"))
    both = await search(parse("融资担保 小额贷款", 100), Filters())
    assert both.mode == "any" and both.total == 2  # no document has both: each has one


async def test_a_title_with_the_words_comes_before_newer_bodies_with_them(
    any_config: Config, any_staff: Staff
) -> None:
    titled = await published(
        any_config, any_staff, title="关于融资担保费率的通知", body="详见附件。"
    )
    await published(any_config, any_staff, title="关于办公时间的通知", body="融资担保费率不变。")
    newest = await published(
        any_config, any_staff, title="关于假期安排的通知", body="融资担保照常。"
    )
    assert (await titles("融资担保"))[0] == titled.title  # older, but the title says it
    assert (await titles("融资担保"))[1] == newest.title  # then the newest first


async def test_reindex_rebuilds_the_same_documents_and_tombstones_what_left(
    any_config: Config, any_staff: Staff
) -> None:
    kept = await published(any_config, any_staff)
    await SearchDoc.all().delete()
    await SearchDoc.create(
        key="item:999999",
        kind="item",
        title="早已撤下",
        text="",
        url="/items/999999",
        updated_at=kept.published_at,
    )
    done = await index.reindex()
    assert (done.items, done.removed) == (1, 1)
    assert await titles("担保费率") == [kept.title]
    assert (await SearchDoc.get(key="item:999999")).removed_at is not None


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '"担保',
        "*",
        "担保*",
        "NEAR(担保 费率)",
        "担保 AND",
        "OR 担保",
        "NOT",
        "'",
        "\\",
        "担保 & | ! ( ) :*",
        "title_tokens:担保",
        "\ud800担保",
        "担" * 10_000,
        "",
        "   ",
        "的",
        "^ - + { } [ ]",
    ],
)
async def test_a_hostile_query_is_words_never_syntax(
    any_config: Config, any_staff: Staff, hostile: str
) -> None:
    await published(any_config, any_staff)
    query = parse(hostile, 100)
    assert len(query.text) <= 100
    results = await search(query, Filters())
    assert results.total >= 0
    if "担保" in hostile and not hostile.startswith("担" * 2):
        assert results.total == 1
