"""The 主动公开目录 metadata table at the top of a public item page (issue 23): a real table
with a row header per field, in a wrapper that scrolls on narrow screens; the content fields
as the published version has them, the 索引号 from the item, dates in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item, ItemVersion
from tests.conftest import Staff
from tests.web.conftest import Publish, run_dispatcher

SHANGHAI = ZoneInfo("Asia/Shanghai")


class MetaTable(HTMLParser):
    """The rows of the first <table class="meta">: (header, cell text), with each header's
    scope, and the classes of the elements around the table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[str, str]] = []
        self.scopes: list[str | None] = []
        self.wrapper: dict[str, str | None] = {}
        self.caption = ""
        self._in_table = False
        self._done = False
        self._cell: str | None = None
        self._text = ""
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("class") == "meta" and not self._done:
            self._in_table = True
            self.wrapper = self.open[-1][1] if self.open else {}
        elif self._in_table and tag in ("th", "td", "caption"):
            self._cell, self._text = tag, ""
            if tag == "th":
                self.scopes.append(a.get("scope"))
        elif self._in_table and tag == "tr":
            self._row = []
        self.open.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            self.open.pop()
        if not self._in_table:
            return
        if tag == "caption":
            self.caption = self._text.strip()
        elif tag in ("th", "td"):
            self._row.append(self._text.strip())
        elif tag == "tr":
            self.rows.append((self._row[0], self._row[1]))
        elif tag == "table":
            self._in_table, self._done = False, True
        if tag in ("th", "td", "caption"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data


async def table_of(client: TestClient[Any, Any], item_id: int) -> MetaTable:
    resp = await client.get(f"/items/{item_id}")
    assert resp.status == 200, await resp.text()
    parsed = MetaTable()
    parsed.feed(await resp.text())
    return parsed


def shanghai_day(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d")


async def test_a_published_policy_shows_the_standard_metadata_table_first(
    config: Config, publish: Publish, client: TestClient[Any, Any], staff: Staff
) -> None:
    item = await publish(
        kind="policy",
        column="policy",
        title="关于规范融资担保机构经营的若干规定",
        body="第一条 为规范融资担保机构经营行为，制定本规定。",
        doc_number="沪金规〔2026〕2号",
        written_on="2026-03-02",
        topic="财政、金融、审计",
        publisher="上海市地方金融管理局",
    )
    assert item.index_no is not None
    table = await table_of(client, item.id)
    rows = dict(table.rows)
    assert [name for name, _ in table.rows][:7] == [
        "索引号",
        "主题分类",
        "发布机构",
        "成文日期",
        "发布日期",
        "文号",
        "有效性",
    ]
    assert rows["索引号"] == item.index_no
    assert rows["主题分类"] == "财政、金融、审计"
    assert rows["发布机构"] == "上海市地方金融管理局"
    assert rows["成文日期"] == "2026-03-02"
    assert rows["发布日期"] == shanghai_day(item.published_at)
    assert rows["文号"] == "沪金规〔2026〕2号"
    assert rows["有效性"] == "有效"
    # Accessible: a caption, a row header for every row, a focusable, named scrolling region.
    assert table.caption == "文件信息"
    assert table.scopes == ["row"] * len(table.rows)
    assert table.wrapper.get("class") == "table-scroll"
    assert table.wrapper.get("role") == "region" and table.wrapper.get("tabindex") == "0"

    await lifecycle.set_validity(item.id, staff.reviewer, "repealed", "已被新规定替代")
    assert dict((await table_of(client, item.id)).rows)["有效性"] == "已废止"


async def test_a_notice_shows_none_for_what_it_lacks_and_the_configured_publisher(
    config: Config, publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish(doc_number="")
    rows = dict((await table_of(client, item.id)).rows)
    assert rows["索引号"] == item.index_no and re.fullmatch(r"GK-\d{4}-\d{5}", rows["索引号"])
    assert (rows["主题分类"], rows["成文日期"], rows["文号"]) == ("无", "无", "无")
    assert rows["发布机构"] == config.publisher()
    assert "有效性" not in rows  # only a policy has one


async def test_a_version_published_before_the_fields_existed_shows_what_it_has(
    config: Config, staff: Staff, client: TestClient[Any, Any]
) -> None:
    data = ItemCreate.model_validate(
        {"kind": "notice", "title": "旧版通知", "body": "正文。", "office": "办公室"}
    )
    item = await lifecycle.create_item(data, staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    version = await ItemVersion.get(item_id=item.id, version=1)
    for key in ("written_on", "topic", "publisher"):  # as a snapshot taken before 0010
        version.snapshot.pop(key)
    await version.save(update_fields=["snapshot"])
    await run_dispatcher(config)

    rows = dict((await table_of(client, item.id)).rows)
    assert rows["发布机构"] == config.publisher()
    assert (rows["主题分类"], rows["成文日期"]) == ("无", "无")
    assert rows["索引号"] == (await Item.get(id=item.id)).index_no
