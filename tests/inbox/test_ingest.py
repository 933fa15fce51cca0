"""Ingestion through bot/inbox/ingest.py on SQLite and PostgreSQL: channel retries are stored once
(also
when they race), the original text is never altered, the item a comment is about is found by
id or by the channel's published-article reference, website form messages get a 查询码, and the
knowledge base reads what the public search indexes (FAQ, 选登, published items, and no
retracted one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Config
from bot.inbox.ingest import Inbox, IngestError
from bot.items import lifecycle
from bot.models import Comment, Delivery, Faq, Item
from bot.outbox.channel_set import retract_support
from channels.base import IncomingComment
from tests.conftest import Staff
from tests.search.test_export import faq, moderator, selected
from tests.search.test_index import published

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai, a working day


def incoming(
    remote_id: str, text: str = "请问营业执照办理需要哪些材料？", **extra: object
) -> IncomingComment:
    data: dict[str, object] = {
        "channel": "wechat",
        "remote_id": remote_id,
        "text": text,
        "received_at": AT,
        "kind": "message",
        "author_ref": f"wechat:{remote_id}",
    }
    data.update(extra)
    return IncomingComment(**data)  # type: ignore[arg-type]


async def published_item(staff: Staff, office: str = "法规处") -> Item:
    return await Item.create(
        kind="policy",
        title="关于小额贷款公司监管的办法",
        summary="小额贷款公司的设立条件和监管要求。",
        body="小额贷款公司注册资本不低于一亿元。",
        column="policy",
        office=office,
        status="published",
        author_id=staff.editor.user_id,
    )


async def test_a_channel_retry_is_stored_once_and_changes_nothing(any_config: Config) -> None:
    inbox = Inbox(any_config)
    first = await inbox.ingest(incoming("msg:1"))
    again = await inbox.ingest(incoming("msg:1", text="a retry never overwrites the first text"))
    assert first.created and not again.created
    assert again.comment.id == first.comment.id
    assert again.comment.original_text == "请问营业执照办理需要哪些材料？"
    assert await Comment.all().count() == 1


async def test_the_comment_returned_by_ingest_is_the_stored_row_and_saves_as_an_update(
    any_config: Config,
) -> None:
    inbox = Inbox(any_config)
    [fresh] = await inbox.ingest_many(
        [incoming("msg:r1", "我的电话是13812345678，请问营业执照怎么办？", reply_ref={"a": 1})]
    )
    stored = await Comment.get(id=fresh.comment.id)
    for name in Comment._meta.fields_db_projection:  # every column, foreign keys too
        assert getattr(fresh.comment, name) == getattr(stored, name), name
    fresh.comment.flags = [*fresh.comment.flags, "checked"]
    await fresh.comment.save(update_fields=["flags"])
    assert await Comment.all().count() == 1
    assert "checked" in (await Comment.get(id=stored.id)).flags


async def test_duplicates_within_one_batch_and_against_stored_rows_are_stored_once(
    any_config: Config,
) -> None:
    inbox = Inbox(any_config)
    await inbox.ingest(incoming("msg:1"))
    batch = [incoming("msg:1"), incoming("msg:2", "第二条"), incoming("msg:2", "第二条")]
    done = await inbox.ingest_many(batch)
    assert [d.created for d in done] == [False, True, False]
    assert done[1].comment.id == done[2].comment.id
    assert await Comment.all().count() == 2


async def test_concurrent_deliveries_of_the_same_message_store_one_row(any_config: Config) -> None:
    inboxes = [Inbox(any_config) for _ in range(4)]
    done = await asyncio.gather(*(i.ingest(incoming("msg:race")) for i in inboxes))
    assert sum(d.created for d in done) == 1
    assert len({d.comment.id for d in done}) == 1
    assert await Comment.filter(remote_id="msg:race").count() == 1


async def test_original_text_is_kept_and_personal_data_is_masked_in_the_copy(
    any_config: Config,
) -> None:
    text = "我的手机号是13812345678，身份证号110101199003078515，请回电。"
    done = await Inbox(any_config).ingest(incoming("msg:pd", text))
    stored = await Comment.get(id=done.comment.id)
    assert stored.original_text == text
    assert "13812345678" not in stored.masked_text
    assert "110101199003078515" not in stored.masked_text
    assert "personal_data" in stored.flags


async def test_triage_fills_category_office_and_a_due_time_in_working_days(
    any_config: Config,
) -> None:
    done = await Inbox(any_config).ingest(incoming("msg:due"))
    c = await Comment.get(id=done.comment.id)
    assert c.status == "open" and c.category and c.office
    # Five working days after Monday 2025-03-03: Monday 2025-03-10, end of the working day.
    assert c.due_at is not None
    assert c.due_at.astimezone(UTC).date() == datetime(2025, 3, 10).date()
    assert c.calendar_known


async def test_item_is_found_by_id_or_by_the_channels_article_reference_and_routes_the_office(
    any_config: Config, any_staff: Staff
) -> None:
    item = await published_item(any_staff, office="普惠金融处")
    await Delivery.create(
        item_id=item.id,
        item_version=1,
        channel="wechat",
        due_at=AT,
        next_attempt_at=AT,
        status="done",
        remote_id="article-77",
    )
    inbox = Inbox(any_config)
    by_ref = await inbox.ingest(
        incoming("comment:77:0:1", kind="article_comment", remote_item_ref="article-77")
    )
    by_id = await inbox.ingest(incoming("msg:by-id", "另一个问题", item_id=item.id))
    unknown = await inbox.ingest(incoming("msg:no-item", "第三个问题", item_id=999_999))
    assert by_ref.comment.item_id == item.id and by_id.comment.item_id == item.id
    assert unknown.comment.item_id is None
    stored = await Comment.get(id=by_ref.comment.id)
    assert stored.item_id == item.id and stored.office == "普惠金融处"


async def test_form_messages_get_a_unique_query_code_and_others_none(any_config: Config) -> None:
    inbox = Inbox(any_config)
    forms = await inbox.ingest_many(
        [incoming(f"form:{i}", f"网站留言{i}", channel="feed", kind="form") for i in range(20)]
    )
    message = await inbox.ingest(incoming("msg:x"))
    codes = {(await Comment.get(id=f.comment.id)).query_code for f in forms}
    assert len(codes) == 20 and None not in codes
    assert message.comment.query_code is None


async def test_a_comment_without_time_zone_or_with_an_unknown_kind_is_refused(
    config: Config,
) -> None:
    inbox = Inbox(config)
    with pytest.raises(IngestError, match="时区"):
        await inbox.ingest(incoming("msg:naive", received_at=datetime(2025, 3, 3, 10)))
    with pytest.raises(IngestError, match="留言类型"):
        await inbox.ingest(incoming("msg:kind", kind="tweet"))
    assert await Comment.all().count() == 0


async def test_the_knowledge_base_suggests_faq_and_qa_answers_and_never_a_retracted_item(
    any_config: Config, any_staff: Staff
) -> None:
    # What the public search indexes, made the way it is made: an FAQ entry, a 选登 exchange
    # (answered, sent, selected) and an item published on the website, then retracted.
    faq_entry = await faq("营业执照如何办理？", "请到政务服务中心窗口办理。", ["营业执照"])
    await Faq.create(question="旧问题", answer="不再使用", active=False)  # never indexed
    entry = await selected(
        any_config, await moderator(), "请问公积金提取需要什么材料？", "携带身份证和银行卡办理。"
    )
    item = await published(
        any_config,
        any_staff,
        title="关于社会保障卡补办网点的通知",
        body="社会保障卡遗失的，可到任一社会保障卡服务网点补办。",
    )
    inbox = Inbox(any_config)
    base = any_config.app.public_base_url
    assert await inbox.refresh_knowledge() == 3
    hit = inbox.suggest("社会保障卡在哪里补办")
    assert hit is not None and hit.doc.url == f"{base}/items/{item.id}"

    await lifecycle.retract(item.id, any_staff.reviewer, "撤回", retract_support(any_config))
    assert await inbox.refresh_knowledge() == 2
    gone = inbox.suggest("社会保障卡在哪里补办")
    assert gone is None or gone.doc.source != f"item:{item.id}"
    hit = inbox.suggest("营业执照怎么办理")
    assert hit is not None and hit.doc.source == f"faq:{faq_entry.id}"
    assert hit.doc.answer == "请到政务服务中心窗口办理。"
    assert hit.doc.url == f"{base}/faq#faq-{faq_entry.id}"
    hit = inbox.suggest("公积金提取要带什么材料")
    assert hit is not None and hit.doc.source == f"qa:{entry.id}"
    assert (hit.doc.answer, hit.doc.url) == (entry.answer, f"{base}/qa/{entry.id}")
    done = await inbox.ingest(incoming("msg:kb", "请问公积金提取需要什么材料？", received_at=AT))
    assert done.comment.suggested_source == f"qa:{entry.id}"
    assert done.comment.suggested_answer == entry.answer


async def test_a_large_batch_is_stored_in_chunks_in_order(config: Config) -> None:
    inbox = Inbox(config)
    batch = [
        incoming(f"msg:{i}", f"第{i}条留言：关于政策的问题", received_at=AT + timedelta(seconds=i))
        for i in range(1200)
    ]
    done = await inbox.ingest_many(batch)
    assert [d.comment.remote_id for d in done] == [c.remote_id for c in batch]
    assert all(d.created for d in done)
    assert await Comment.all().count() == 1200
