"""`gongkai inbox import-ratings`, `gongkai matter …` and `gongkai task …` through click's
CliRunner against a real SQLite file: ratings imported with the bad row named and nothing
twice, 12345 orders placed in their matter, a task opened by `task scan`, refused closing
without a published response, closed with one, and its comments answered once by `reply-all`;
exit code 4 and a Chinese message when refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.cli import test_main as test_cli
from tests.cli.test_main import NOTICE, Cli, write_config
from tests.matters.support import orders_csv

MATTERS_TOML = """
[hot_matters.tasks]
complaints = 3

[[matters]]
key = "kaiban"
name = "企业开办"
office = "企业服务处"
keywords = ["营业执照", "开办企业"]

[[matters]]
key = "gongjijin"
name = "住房公积金提取"
office = "住房保障处"
keywords = ["公积金"]
"""
RATINGS = (
    "事项名称,评价等级,评价内容,时间\n"
    "企业开办,不满意,营业执照太慢，电话13912345678,2025-06-01 10:00\n"
    "住房公积金提取,满意,,2025-06-02 10:00\n"
    "企业开办,还行,这一行等级有误,2025-06-03 10:00\n"
)


# The fixtures of test_main.py, used here too.
fresh = test_cli.fresh
cli = test_cli.cli


@pytest.fixture
def mcli(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("GONGKAI_AUTHOR_KEY", "cli-test-key")  # the 12345 import needs it
    write_config(cli.config, cli.db_file, MATTERS_TOML)
    cli.run("user", "add", "mia", "--role", "moderator")
    return cli


def run_json(cli: Cli, *args: str, code: int = 0) -> Any:
    return json.loads(cli.run(*args, "--json", code=code).stdout)


def test_ratings_import_names_the_bad_row_and_adds_nothing_the_second_time(mcli: Cli) -> None:
    path = mcli.file("ratings.csv", RATINGS)
    first = run_json(mcli, "inbox", "import-ratings", path, "--as", "mia", code=4)
    assert (first["created"], first["matched"]) == (2, 2)
    assert first["errors"] == [
        {
            "line": 4,
            "field": "评价等级",
            "message": "「还行」无法识别，"
            "可选：非常满意、满意、基本满意、不满意、非常不满意，或 1 至 5",
        }
    ]
    again = mcli.run("inbox", "import-ratings", path, "--as", "mia", code=4).output
    assert "新增 0 条" in again and "已存在 2 条" in again and "第 4 行「评价等级」" in again
    refused = mcli.run("inbox", "import-ratings", path, "--as", "alice", code=4).output
    assert "导入好差评需要以下角色之一：留言处理（moderator）" in refused


def test_orders_open_a_task_that_closes_with_a_published_item_and_answers_once(
    mcli: Cli, tmp_path: Path
) -> None:
    start = (datetime.now(UTC) - timedelta(days=5)).astimezone(ZoneInfo("Asia/Shanghai"))
    orders = orders_csv(tmp_path / "orders.csv", 3, start.replace(tzinfo=None))
    mcli.run("inbox", "import-hotline", str(orders), "--as", "mia")
    placed = run_json(mcli, "matter", "assign")
    assert placed["by_matter"] == {"kaiban": 3}
    listed = run_json(mcli, "matter", "list")
    assert listed["matters"][0]["key"] == "kaiban" and listed["matters"][0]["messages_30d"] == 3
    listed_table = mcli.run("matter", "list").output
    assert "企业开办" in listed_table and "kaiban" in listed_table
    table = mcli.run("matter", "show", "kaiban").output
    assert "近 30 天诉求 3 件" in table and "企业服务处" in table
    assert "未在配置中列出" in mcli.run("matter", "show", "nothing", code=4).output

    scanned = run_json(mcli, "task", "scan", "--as", "mia")
    [task_id] = scanned["opened"]
    assert run_json(mcli, "task", "scan", "--as", "mia")["already_open"] == ["kaiban"]
    shown = run_json(mcli, "task", "show", str(task_id))
    assert shown["reasons"] == ["complaints"] and len(shown["comments"]) == 3
    assert "诉求集中" in mcli.run("task", "list").output

    item_id = mcli.add_item("alice", NOTICE)
    refused = mcli.run(
        "task",
        "close",
        str(task_id),
        "--item",
        str(item_id),
        "--note",
        "一次告知",
        "--as",
        "alice",
        code=4,
    ).output
    assert "当前状态为「草稿」" in refused
    assert "答复" in mcli.run("task", "reply-all", str(task_id), "--as", "mia", code=4).output
    mcli.run("item", "submit", str(item_id), "--as", "alice")
    mcli.run("item", "approve", str(item_id), "--as", "bob")
    mcli.run("dispatch", "--once")
    closed = run_json(
        mcli,
        "task",
        "close",
        str(task_id),
        "--item",
        str(item_id),
        "--note",
        "一次告知",
        "--as",
        "alice",
    )
    assert closed["status"] == "closed" and closed["on_time"] is True

    answered = run_json(mcli, "task", "reply-all", str(task_id), "--as", "mia")
    assert len(answered["queued"]) == 3
    again = mcli.run("task", "reply-all", str(task_id), "--as", "mia").output
    assert "已排入发送队列 0 条" in again and "此前已答复 3 条" in again
