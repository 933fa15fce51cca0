"""The knowledge export (bot/search/export.py) on SQLite and PostgreSQL: paged by cursor, every
published FAQ and 选登 entry appears exactly once; `since` gives only what changed, retracted
items and withdrawn 选登 as tombstones; a change still settling is left for a later page; and
the cursor is a parser that takes any text without failing otherwise than BadCursor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from bot import users
from bot.actors import Actor
from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox import qa
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.items import lifecycle
from bot.models import Faq, QaEntry
from bot.outbox.channel_set import build_channels, retract_support
from bot.search import export, index
from bot.search.documents import faq_doc
from channels.base import IncomingComment
from tests.conftest import Staff, add_test_user
from tests.search.test_index import published

FAQS = [
    ("如何申请政府信息公开？", "可通过网上申请、信函申请或当面申请提交政府信息公开申请。"),
    ("依申请公开多久答复？", "能够当场答复的当场答复；不能当场答复的，20个工作日内答复。"),
    ("公开目录在哪里查询？", "在门户网站首页的「政府信息公开」栏目查询。"),
]


async def faq(question: str, answer: str, keywords: list[str] | None = None) -> Faq:
    """An active FAQ entry, indexed (what an FAQ editor's save does)."""
    entry = await Faq.create(question=question, answer=answer, keywords=keywords or [])
    async with in_transaction() as conn:
        await index.store(conn, [faq_doc(entry)])
    return entry


async def moderator() -> Actor:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    return await users.actor_for_user("mia")


async def selected(config: Config, mod: Actor, question: str, answer: str) -> QaEntry:
    """A 选登 entry the way it happens: a website question answered, sent, then selected."""
    incoming = IncomingComment(
        channel="feed",
        remote_id=uuid.uuid4().hex,
        text=question,
        received_at=datetime.now(UTC),
        kind="form",
        author_ref=f"feed:{uuid.uuid4().hex}",
        reply_ref={"type": "query_code"},
    )
    comment = (await Inbox(config).ingest(incoming)).comment
    await inbox_ops.send_reply(comment.id, mod, text=answer)
    await ReplySender(config, build_channels(config)).run_until_idle()
    entry = await qa.select(comment.id, mod)
    assert isinstance(entry, QaEntry)
    return entry


async def everything(config: Config, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every record of the export, page after page, each page's cursor taken to the next."""
    out: list[dict[str, Any]] = []
    after = None
    for _ in range(100):
        page = await export.page(config.app.public_base_url, after=after, limit=limit, **query)
        out += page.records
        if len(page.records) < limit:
            return out
        assert page.next is not None
        after = page.next
    raise AssertionError("the export did not end")


async def test_every_faq_and_qa_entry_is_exported_once_across_pages(
    any_config: Config, any_staff: Staff
) -> None:
    mod = await moderator()
    faqs = [await faq(q, a) for q, a in FAQS]
    entries = [
        await selected(any_config, mod, "请问公开目录在哪里查询？", "在网站首页查询。"),
        await selected(any_config, mod, "周末提交的申请何时受理？", "顺延至下一个工作日受理。"),
    ]
    item = await published(any_config, any_staff, summary="小微企业融资担保费率下调。")
    records = await everything(any_config, limit=2)

    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys))  # once each, across pages
    wanted = {f"faq:{f.id}" for f in faqs} | {f"qa:{e.id}" for e in entries}
    assert wanted | {f"item:{item.id}"} == set(keys)
    by_key = {r["key"]: r for r in records}
    base = any_config.app.public_base_url
    first = by_key[f"faq:{faqs[0].id}"]
    assert first == {
        "key": f"faq:{faqs[0].id}",
        "kind": "faq",
        "question": FAQS[0][0],
        "answer": FAQS[0][1],
        "url": f"{base}/faq#faq-{faqs[0].id}",
        "office": "",
        "updated_at": first["updated_at"],
        "removed": False,
    }
    assert by_key[f"qa:{entries[1].id}"]["answer"] == "顺延至下一个工作日受理。"
    assert by_key[f"qa:{entries[1].id}"]["url"] == f"{base}/qa/{entries[1].id}"
    shown = by_key[f"item:{item.id}"]
    assert shown["question"] == item.title and shown["answer"] == "小微企业融资担保费率下调。"
    assert datetime.fromisoformat(shown["updated_at"]).utcoffset() == timedelta(0)
    times = [datetime.fromisoformat(r["updated_at"]) for r in records]
    assert times == sorted(times)


async def test_since_gives_only_what_changed_with_tombstones_for_what_left(
    any_config: Config, any_staff: Staff
) -> None:
    mod = await moderator()
    kept = await faq(*FAQS[0])
    item = await published(any_config, any_staff)  # no summary: its first passage answers
    entry = await selected(any_config, mod, "请问公开目录在哪里查询？", "在网站首页查询。")
    before = await everything(any_config, limit=50)
    assert {r["key"] for r in before} == {f"faq:{kept.id}", f"item:{item.id}", f"qa:{entry.id}"}
    assert [r["answer"] for r in before if r["kind"] == "item"] == ["各区金融工作局："]

    since = datetime.now(UTC)
    await lifecycle.retract(item.id, any_staff.reviewer, "撤回", retract_support(any_config))
    await qa.withdraw(entry.id, mod, "答复内容已过时")
    changed = await everything(any_config, limit=1, since=since)
    assert [r["key"] for r in changed] == [f"item:{item.id}", f"qa:{entry.id}"]
    for r in changed:
        assert r["removed"] is True and set(r) == {"key", "removed", "updated_at"}
    # The whole export still holds each once: the FAQ, and the two as tombstones.
    after = await everything(any_config, limit=2)
    assert sorted((r["key"], r["removed"]) for r in after) == sorted(
        [(f"faq:{kept.id}", False), (f"item:{item.id}", True), (f"qa:{entry.id}", True)]
    )


async def test_a_cursor_goes_on_with_what_changed_later_and_never_passes_a_settling_change(
    any_config: Config,
) -> None:
    base = any_config.app.public_base_url
    first = await faq(*FAQS[0])
    page = await export.page(base, limit=10)
    assert [r["key"] for r in page.records] == [f"faq:{first.id}"]
    assert page.next is not None
    empty = await export.page(base, after=page.next, limit=10)
    assert empty.records == [] and empty.next == page.next  # nothing new: the same place

    second = await faq(*FAQS[1])
    settling = await export.page(base, after=page.next, limit=10, settle=timedelta(minutes=1))
    assert settling.records == [] and settling.next == page.next  # not passed
    later = datetime.now(UTC) + timedelta(minutes=2)
    settled = await export.page(
        base, after=page.next, limit=10, settle=timedelta(minutes=1), now=later
    )
    assert [r["key"] for r in settled.records] == [f"faq:{second.id}"]


async def test_documents_written_at_the_same_moment_are_paged_by_id_none_lost(
    any_config: Config,
) -> None:
    # A reindex writes 200 documents a transaction with one time: the cursor's id breaks ties.
    entries = [
        await Faq.create(question=f"第{n}个问题？", answer=f"第{n}个答复。") for n in range(5)
    ]
    async with in_transaction() as conn:
        await index.store(conn, [faq_doc(e) for e in entries])
    records = await everything(any_config, limit=2)
    assert [r["key"] for r in records] == [f"faq:{e.id}" for e in entries]
    assert len({r["updated_at"] for r in records}) == 1


@given(st.text(max_size=80))
def test_any_text_is_a_cursor_or_a_bad_cursor(text: str) -> None:
    try:
        cursor = export.Cursor.decode(text)
    except export.BadCursor:
        return
    assert export.Cursor.decode(cursor.encode()) == cursor


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)),
    st.integers(min_value=1, max_value=2**31 - 1),
)
def test_a_cursor_round_trips_to_the_microsecond(at: datetime, ident: int) -> None:
    cursor = export.Cursor(at.replace(tzinfo=UTC), ident)
    assert export.Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "=", "abc", "MTIz", "LTEuMQ", "MC4w", "OS45OTk5OTk5OTk5"])
def test_texts_that_are_no_cursor_are_refused(text: str) -> None:
    with pytest.raises(export.BadCursor):
        export.Cursor.decode(text)
