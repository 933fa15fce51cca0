"""`gongkai inbox …` through click's CliRunner against a real SQLite file: work orders imported
from a file, then listed, shown, assigned, answered, closed and counted; tables for people,
--json for scripts, exit code 4 and a Chinese message when an action is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main

ENV = {"GONGKAI_AUTHOR_KEY": "cli-test-key"}
ORDERS = (
    "工单编号,受理时间,诉求内容,诉求类型\n"
    "GD1,2025-03-03 10:00,咨询小额贷款公司年审材料,咨询\n"
    "GD2,2025-03-03 11:00,投诉某网贷平台暴力催收,投诉\n"
    "GD3,不是时间,这一行有错,咨询\n"
)


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "config.toml"
        self.config.write_text(f'[database]\nurl = "sqlite://{tmp}/gk.db"\n', encoding="utf-8")
        self.tmp = tmp

    def run(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, ["--config", str(self.config), *args], env=ENV)
        assert result.exit_code == code, f"{args} → {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", code=code).stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path)
    c.run("db", "upgrade")
    c.run("user", "add", "mia", "--role", "moderator")
    c.run("user", "add", "alice", "--role", "editor")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return c


def test_import_list_show_assign_reply_and_close(cli: Cli) -> None:
    orders = str(cli.tmp / "orders.csv")
    imported = cli.json("inbox", "import-hotline", orders, "--as", "mia", code=4)
    assert imported["created"] == 2
    assert imported["errors"] == [
        {
            "line": 4,
            "field": "受理时间",
            "message": "时间「不是时间」无法识别，应写成 2024-03-01 09:30",
        }
    ]
    again = cli.run("inbox", "import-hotline", orders, "--as", "mia", code=4)
    assert "新增 0 条，已存在 2 条，有误 1 行" in again.output
    listed = cli.json("inbox", "list", "--status", "open")
    assert listed["total"] == 2
    first, second = (c["id"] for c in listed["comments"])
    table = cli.run("inbox", "list", "--channel", "hotline").output
    assert "留言（共 2 条，第 1 页）" in table
    assert cli.json("inbox", "list", "--category", "投诉")["comments"][0]["id"] in (first, second)

    cli.run("inbox", "assign", str(first), "--to", "mia", "--office", "法规处", "--as", "mia")
    reply = cli.json(
        "inbox", "reply", str(first), "--text", "您好，年审材料见官网通知。", "--as", "mia"
    )
    assert reply["status"] == "queued"
    shown = cli.json("inbox", "show", str(first))
    assert shown["assignee"] == "mia" and shown["office"] == "法规处"
    assert shown["replies"][0]["status"] == "queued" and shown["reply_status"] == "queued"
    assert [h["action"] for h in shown["history"]] == ["comment.assign", "reply.queue"]
    text = cli.run("inbox", "show", str(first)).output
    assert "待发送" in text and "咨询小额贷款公司年审材料" in text

    closed = cli.json("inbox", "close", str(first), str(second), "--as", "mia")
    assert closed == [
        {"id": first, "ok": True, "error": ""},
        {"id": second, "ok": True, "error": ""},
    ]
    assert cli.json("inbox", "list", "--status", "closed")["total"] == 2


def test_refusals_exit_4_with_a_chinese_message(cli: Cli) -> None:
    cli.run("inbox", "import-hotline", str(cli.tmp / "orders.csv"), "--as", "mia", code=4)
    comment_id = str(cli.json("inbox", "list")["comments"][0]["id"])
    refused = cli.run("inbox", "close", comment_id, "--as", "alice", code=4)
    assert "处理留言需要以下角色之一：留言处理（moderator）" in refused.output
    cli.run("inbox", "reopen", comment_id, "--as", "mia", code=4)
    assert "无法重新打开" in cli.run("inbox", "reopen", comment_id, "--as", "mia", code=4).output
    assert "不存在" in cli.run("inbox", "show", "9999", code=4).output
    cli.run("inbox", "reply", comment_id, "--as", "mia", code=2)


def test_metrics_as_table_and_json(cli: Cli) -> None:
    cli.run("inbox", "import-hotline", str(cli.tmp / "orders.csv"), "--as", "mia", code=4)
    data = cli.json("inbox", "metrics", "--from", "2025-03-01", "--to", "2025-04-01")
    assert data["total"] == 2 and {g["key"] for g in data["by_category"]} == {"咨询", "投诉"}
    assert data["by_month"] == [
        {
            "key": "2025-03",
            "total": 2,
            "answered": 0,
            "on_time": 0,
            "judged": 2,
            "overdue_open": 2,
            "on_time_rate": 0.0,
        }
    ]
    assert "按时答复率 0.0%" in cli.run("inbox", "metrics").output
