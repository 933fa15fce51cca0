"""The 主动公开目录 metadata in item files and on the command line (issue 23): a file's
written_on (a TOML or JSON date), topic and publisher reach the item and come back from `item
show`; a bad one is named with its file, line and field; the 索引号 appears once the item is
approved."""

from __future__ import annotations

import json
import re

from tests.cli import test_main
from tests.cli.test_main import Cli

# The fixtures of test_main.py, used here too.
fresh = test_main.fresh
cli = test_main.cli

POLICY = """+++
kind = "政策文件"
title = "关于规范融资担保机构经营的若干规定"
column = "policy"
doc_number = "沪金规〔2026〕2号"
office = "法规处"
written_on = 2026-03-02
topic = "财政、金融、审计"
publisher = "上海市地方金融管理局"
+++

第一条 为规范融资担保机构经营行为，制定本规定。
"""


def test_an_item_file_round_trips_its_metadata_through_add_edit_and_show(cli: Cli) -> None:
    item_id = cli.add_item("alice", POLICY)
    item = cli.json("item", "show", str(item_id))["item"]
    assert (item["written_on"], item["topic"], item["publisher"], item["index_no"]) == (
        "2026-03-02",
        "财政、金融、审计",
        "上海市地方金融管理局",
        None,
    )
    table = cli.run("item", "show", str(item_id)).output
    assert "成文日期" in table and "2026-03-02" in table and "财政、金融、审计" in table

    edit = cli.file("edit.json", json.dumps({"written_on": "2026-03-05", "topic": "其他"}))
    cli.run("item", "edit", str(item_id), edit, "--as", "alice")
    item = cli.json("item", "show", str(item_id))["item"]
    assert (item["written_on"], item["topic"]) == ("2026-03-05", "其他")


def test_the_index_number_is_shown_once_the_item_is_approved(cli: Cli) -> None:
    item_id = cli.add_item("alice")  # a notice
    cli.run("item", "submit", str(item_id), "--as", "alice")
    cli.run("item", "approve", str(item_id), "--as", "bob")
    item = cli.json("item", "show", str(item_id))["item"]
    assert re.fullmatch(r"GK-\d{4}-00001", item["index_no"])
    assert item["index_no"] in cli.run("item", "show", str(item_id)).output


def test_a_bad_written_date_is_named_with_file_line_and_field(cli: Cli) -> None:
    bad = POLICY.replace("written_on = 2026-03-02", 'written_on = "2026年3月2日"')
    result = cli.run("item", "add", cli.file("bad.md", bad), "--as", "alice", code=4)
    assert "bad.md 第 7 行，字段 written_on（成文日期）" in result.output
    assert "格式 YYYY-MM-DD" in result.output


def test_a_topic_outside_the_configured_list_is_refused_with_the_choices(cli: Cli) -> None:
    bad = POLICY.replace('topic = "财政、金融、审计"', 'topic = "金融稳定"')
    result = cli.run("item", "add", cli.file("bad.md", bad), "--as", "alice", code=4)
    assert "主题分类（topic）「金融稳定」" in result.output and "综合政务" in result.output
    assert cli.json("item", "list") == []
