"""The `gongkai` command line, driven through click's CliRunner against a real SQLite file:
accounts, the item lifecycle from a file to a published feed delivery, the exit codes, and the
audit check. CLI commands run their own event loop, so these tests are synchronous."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

NOTICE = """+++
kind = "通知公告"
title = "关于假期办事大厅服务时间调整的通知"
column = "notice"
disclosure = "主动公开"
+++

元旦假期期间暂停现场受理。
"""


@dataclass
class Cli:
    tmp: Path
    config: Path
    db_file: Path

    def run(
        self,
        *args: str,
        code: int = 0,
        input: str | None = None,
        env: dict[str, str] | None = None,
        config: Path | None = None,
    ) -> Result:
        result = CliRunner().invoke(
            main, ["--config", str(config or self.config), *args], input=input, env=env
        )
        assert result.exit_code == code, (
            f"gongkai {' '.join(args)} → {result.exit_code}, expected {code}\n{result.output}"
            f"\n{result.exception!r}"
        )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def file(self, name: str, content: str) -> str:
        path = self.tmp / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    def add_item(self, author: str = "alice", content: str = NOTICE) -> int:
        data = json.loads(
            self.run("item", "add", self.file("item.md", content), "--as", author, "--json").stdout
        )
        return int(data["id"])


def write_config(path: Path, db_file: Path, extra: str = "") -> Path:
    path.write_text(f'[database]\nurl = "sqlite://{db_file}"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Cli:
    """A configuration whose database has not been created or migrated."""
    db_file = tmp_path / "data" / "gongkai.db"
    return Cli(tmp_path, write_config(tmp_path / "config.toml", db_file), db_file)


@pytest.fixture
def cli(fresh: Cli, cli_template: Path) -> Cli:
    """A migrated database with alice (editor), bob (reviewer), carol (editor and reviewer):
    a copy of the one tests/cli/conftest.py made through the command line."""
    fresh.db_file.parent.mkdir(parents=True)
    shutil.copyfile(cli_template, fresh.db_file)
    return fresh


# -- the whole path ---------------------------------------------------------------------------
def test_item_goes_from_file_to_published_feed_delivery(cli: Cli) -> None:
    item_id = cli.add_item("alice")
    assert "待审核" in cli.run("item", "submit", str(item_id), "--as", "alice").output
    assert "已批准" in cli.run("item", "approve", str(item_id), "--as", "bob").output
    assert cli.json("dispatch", "--once") == {"processed": 1}

    shown = cli.json("item", "show", str(item_id))
    assert shown["item"]["status"] == "published"
    assert shown["item"]["author"] == "alice"
    assert shown["item"]["title"] == "关于假期办事大厅服务时间调整的通知"
    assert shown["item"]["published_at"].endswith("Z")  # UTC for scripts
    assert shown["versions"][0]["approved_by"] == "user:bob"
    [delivery] = shown["deliveries"]
    assert (delivery["channel"], delivery["action"], delivery["status"]) == (
        "feed",
        "publish",
        "done",
    )

    table = cli.run("item", "show", str(item_id)).output
    assert "已发布" in table and "已完成" in table
    assert "OK" in cli.run("audit", "verify").output


def test_example_files_import_through_the_cli(cli: Cli) -> None:
    for name in ("notice-holiday.md", "enforcement-penalty.json"):
        cli.run("item", "add", str(EXAMPLES / name), "--as", "alice")
    items = cli.json("item", "list")
    assert [i["kind"] for i in items] == ["notice", "enforcement"]
    assert items[1]["enforcement"]["authority"] == "上海市地方金融监督管理局"
    assert [i["id"] for i in cli.json("item", "list", "--kind", "行政执法公示")] == [2]
    assert cli.json("item", "list", "--status", "published") == []


def test_top_level_verbs_are_the_item_commands(cli: Cli) -> None:
    assert main.commands["submit"] is main.commands["item"].commands["submit"]  # type: ignore[attr-defined]
    item_id = str(cli.add_item("alice"))
    cli.run("submit", item_id, "--as", "alice")
    out = cli.run("return", item_id, "--reason", "请补充依据", env={"GONGKAI_USER": "bob"}).output
    assert "请补充依据" in out
    cli.run("submit", item_id, "--as", "alice")
    cli.run("--as", "bob", "schedule", item_id, "--at", "2030-01-02T09:00+08:00")
    cli.run("approve", item_id, "--as", "bob")
    shown = cli.json("item", "show", item_id)
    assert shown["item"]["status"] == "scheduled"
    assert shown["item"]["publish_at"] == "2030-01-02T01:00:00Z"
    assert cli.json("dispatch", "--once") == {"processed": 0}  # not due yet
    [pending] = cli.json("deliveries", item_id, "--status", "pending")
    assert pending["next_attempt_at"] == "2030-01-02T01:00:00Z"
    assert "2030-01-02 09:00" in cli.run("deliveries", item_id).output  # Asia/Shanghai for people
    out = cli.run("retract", item_id, "--reason", "政策调整", "--as", "bob").output
    assert "已撤稿" in out
    assert cli.json("deliveries", item_id)[0]["status"] == "cancelled"


def test_retract_names_the_channels_that_cannot_retract(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    cli.run("submit", item_id, "--as", "alice")
    cli.run("approve", item_id, "--as", "bob")
    cli.run("dispatch", "--once")
    # The feed has since been switched off: it can no longer take the item down itself.
    off = write_config(cli.tmp / "off.toml", cli.db_file, "[channels.feed]\nenabled = false\n")
    out = cli.run("retract", item_id, "--reason", "误发", "--as", "bob", config=off).output
    assert "不支持撤稿" in out and "feed" in out
    out = cli.run("item", "retract", item_id, "--reason", "再次", "--as", "bob", code=4).output
    assert "已撤稿" in out  # the current state, named


def test_edit_of_a_published_item_makes_a_new_version(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    cli.run("submit", item_id, "--as", "alice")
    cli.run("approve", item_id, "--as", "bob")
    cli.run("dispatch", "--once")
    patch = cli.file("patch.md", '+++\ntitle = "更正后的标题"\n+++\n')
    assert "第 2 版" in cli.run("item", "edit", item_id, patch, "--as", "alice").output
    item = cli.json("item", "show", item_id)["item"]
    assert (item["title"], item["version"], item["status"]) == ("更正后的标题", 2, "draft")
    assert item["body"] == "元旦假期期间暂停现场受理。"  # not in the patch: unchanged
    other_kind = cli.file("kind.md", '+++\nkind = "policy"\n+++\n')
    out = cli.run("item", "edit", item_id, other_kind, "--as", "alice", code=4).output
    assert "类型" in out


# -- refusals -----------------------------------------------------------------------------------
def test_self_approval_is_refused(cli: Cli) -> None:
    item_id = str(cli.add_item("carol"))
    cli.run("item", "submit", item_id, "--as", "carol")
    out = cli.run("item", "approve", item_id, "--as", "carol", code=4).output
    assert "不能批准自己撰写的稿件" in out
    assert cli.json("item", "show", item_id)["item"]["status"] == "in_review"


def test_illegal_transition_names_the_allowed_state(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    out = cli.run("approve", item_id, "--as", "bob", code=4).output
    assert "草稿" in out and "「待审核」" in out


def test_permission_unknown_user_and_missing_item_are_refused(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    assert "reviewer" in cli.run("approve", item_id, "--as", "alice", code=4).output
    assert "用户不存在：mallory" in cli.run("submit", item_id, "--as", "mallory", code=4).output
    assert "#999 不存在" in cli.run("item", "show", "999", code=4).output
    assert "#999 不存在" in cli.run("submit", "999", "--as", "alice", code=4).output


def test_acting_user_is_required(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    assert "--as" in cli.run("submit", item_id, code=2).output


@pytest.mark.parametrize(
    ("name", "content", "line", "field"),
    [
        ("bad-toml.md", '+++\nkind = "notice"\ntitle = "未闭合\n+++\n正文', "第 3 行", "title"),
        ("no-title.md", '+++\nkind = "notice"\nsummary = "摘要"\n+++\n正文', "第 2 行", "title"),
        ("bad-kind.md", '+++\ntitle = "标题"\nkind = "新闻稿"\n+++\n正文', "第 3 行", "kind"),
        (
            "bad.json",
            '{\n  "kind": "notice",\n  "title": "标题",\n  "body": 正文\n}',
            "第 4 行",
            "body",
        ),
        (
            "unknown.json",
            '{\n  "kind": "notice",\n  "title": "t",\n  "colour": "red"\n}',
            "第 4 行",
            "colour",
        ),
    ],
)
def test_malformed_item_file_is_refused_naming_line_and_field(
    cli: Cli, name: str, content: str, line: str, field: str
) -> None:
    path = cli.file(name, content)
    result = cli.run("item", "add", path, "--as", "alice", code=4)
    assert path in result.stderr and line in result.stderr and f"字段 {field}" in result.stderr
    assert cli.json("item", "list") == []


def test_item_file_with_wrong_extension_or_encoding_is_refused(cli: Cli) -> None:
    assert (
        ".txt" in cli.run("item", "add", cli.file("x.txt", NOTICE), "--as", "alice", code=4).output
    )
    gbk = cli.tmp / "gbk.md"
    gbk.write_bytes(NOTICE.encode("gbk"))
    assert "UTF-8" in cli.run("item", "add", str(gbk), "--as", "alice", code=4).output


# -- configuration and schema ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("[web]\nprot = 8080\n", ["web.prot", "unknown key"]),
        ("[web]\nport = 70000\n", ["web.port", "70000"]),
        ('[app]\ntimezone = "Mars/Olympus"\n', ["app.timezone", "Mars/Olympus"]),
    ],
)
def test_bad_config_exits_2_naming_key_and_value_without_creating_the_database(
    fresh: Cli, extra: str, named: list[str]
) -> None:
    bad = write_config(fresh.tmp / "bad.toml", fresh.db_file, extra)
    for args in (["db", "upgrade"], ["item", "list"], ["audit", "verify"]):
        out = fresh.run(*args, code=2, config=bad).output
        assert all(part in out for part in named), out
    assert not fresh.db_file.exists()


def test_schema_not_upgraded_exits_3_with_the_hint(fresh: Cli) -> None:
    out = fresh.run("item", "list", code=3).output
    assert "gongkai db upgrade" in out
    fresh.run("user", "add", "alice", "--role", "editor", code=3)
    fresh.run("db", "upgrade")
    assert fresh.json("item", "list") == []


# -- accounts ----------------------------------------------------------------------------------
def test_user_and_token_commands(cli: Cli) -> None:
    out = cli.run("user", "add", "dave", "--role", "moderator").output
    assert "初始密码（只显示这一次）" in out
    out = cli.run(
        "user", "add", "erin", "--role", "editor", "--password-stdin", input="S3cret-pw-2026\n"
    ).output
    assert "S3cret-pw-2026" not in out and "初始密码" not in out  # typed, so not shown
    assert "首次登录时须修改密码" in out
    assert "用户名已存在" in cli.run("user", "add", "erin", "--role", "editor", code=4).output
    assert "角色无效：boss" in cli.run("user", "add", "x", "--role", "boss", code=4).output
    assert "--role" in cli.run("user", "add", "y", code=2).output
    assert "新密码（只显示这一次）" in cli.run("user", "reset-password", "erin").output
    token = cli.run("token", "add", "bob", "--name", "ci-import").output
    assert "gk_" in token
    assert (
        "不能超出"
        in cli.run("token", "add", "bob", "--name", "x", "--role", "admin", code=4).output
    )
    city = cli.run("token", "add", "bob", "--name", "city", "--scope", "knowledge").output
    assert "gk_" in city and "用途范围：knowledge，不带角色" in city
    out = cli.run("token", "add", "bob", "--name", "x", "--scope", "all", code=4).output
    assert "用途范围无效：all" in out and "knowledge" in out
    cli.run("user", "disable", "erin")
    out = cli.run("item", "add", cli.file("n.md", NOTICE), "--as", "erin", code=4).output
    assert "用户已停用：erin" in out
    assert "用户不存在" in cli.run("user", "disable", "nobody", code=4).output


def test_accounts_get_policy_passwords_to_change_at_first_login_and_an_auditor_role(
    cli: Cli,
) -> None:
    assert "auditor" in cli.run("user", "add", "--help").output
    out = cli.run("user", "add", "audrey", "--role", "auditor").output
    assert "已创建用户 audrey（角色：auditor）" in out and "首次登录时须修改密码" in out
    shown = out.split("初始密码（只显示这一次）：")[1].split()[0]
    assert len(shown) >= 12
    out = cli.run("user", "reset-password", "audrey").output
    assert "下次登录时须修改" in out
    with sqlite3.connect(cli.db_file) as conn:
        row = conn.execute(
            "SELECT roles, must_change_password FROM gk_user WHERE username = 'audrey'"
        ).fetchone()
    assert json.loads(row[0]) == ["auditor"] and row[1] == 1
    refused = cli.run(
        "user", "add", "weak", "--role", "editor", "--password-stdin", input="weak-pw\n", code=4
    ).output
    assert "密码不符合要求：至少 12 个字符（现为 7 个）" in refused
    refused = cli.run(
        "user", "reset-password", "audrey", "--password-stdin", input="Audrey-2026-x\n", code=4
    ).output
    assert "不得包含用户名或姓名" in refused


# -- audit ---------------------------------------------------------------------------------------
def test_audit_verify_names_a_tampered_row(cli: Cli) -> None:
    assert cli.json("audit", "verify") == {
        "ok": True,
        "checked": 3,
        "broken_id": None,
        "reason": "",
    }
    with sqlite3.connect(cli.db_file) as conn:
        conn.execute("""UPDATE gk_audit_event SET details='{"username": "mallory"}' WHERE id=2""")
    result = cli.run("audit", "verify", code=5)
    assert "#2" in result.stderr and "被修改" in result.stderr
    data = json.loads(cli.run("audit", "verify", "--json", code=5).stdout)
    assert (data["ok"], data["broken_id"], data["checked"]) == (False, 2, 1)


# -- output --------------------------------------------------------------------------------------
def test_json_outputs_parse_and_tables_show_local_time(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    cli.run("submit", item_id, "--as", "alice")
    refused = cli.run("submit", item_id, "--as", "alice", "--json", code=4)
    assert refused.stdout == "" and "「待审核」" in refused.stderr  # errors go to stderr only
    approved = json.loads(cli.run("approve", item_id, "--as", "bob", "--json").stdout)
    assert approved["status"] == "approved" and approved["channels"] == ["feed"]
    cli.run("dispatch", "--once")
    [listed] = cli.json("item", "list", "--column", "notice")
    assert listed["status"] == "published" and listed["disclosure"] == "proactive"
    assert listed["status_label"] == "已发布"  # the API's shape, labels included
    [delivery] = cli.json("deliveries")
    assert delivery["status"] == "done" and delivery["finished_at"].endswith("Z")
    table = cli.run("deliveries").output
    assert "已完成" in table and "feed" in table
    assert "没有符合条件的投递" in cli.run("deliveries", "--status", "dead").output
    assert "已发布" in cli.run("item", "list").output


def test_schedule_reads_a_time_without_offset_in_the_configured_zone(cli: Cli) -> None:
    item_id = str(cli.add_item("alice"))
    data = json.loads(
        cli.run("schedule", item_id, "--at", "2030-05-01 08:30", "--as", "alice", "--json").stdout
    )
    assert data["publish_at"] == "2030-05-01T00:30:00Z"
    assert (
        "无法识别" in cli.run("schedule", item_id, "--at", "明天", "--as", "alice", code=2).output
    )
    assert "--now" in cli.run("schedule", item_id, "--as", "alice", code=2).output
    cli.run("schedule", item_id, "--now", "--as", "alice")
    assert cli.json("item", "show", item_id)["item"]["publish_at"] is None
    # A time already past is refused, naming it (it would otherwise go out at once, silently).
    out = cli.run("schedule", item_id, "--at", "2020-05-01 08:30", "--as", "alice", code=4).output
    assert "发布时间 2020-05-01 08:30+08:00 已经过去" in out and "清除发布时间" in out
    assert cli.json("item", "show", item_id)["item"]["publish_at"] is None


def test_config_check_names_a_missing_audit_key(cli: Cli) -> None:
    """`gongkai run` needs the audit key; `config check` says so before anyone starts it."""
    missing = cli.run("config", "check", code=2, env={"GONGKAI_AUDIT_KEY": ""})
    assert "GONGKAI_AUDIT_KEY" in missing.output
    short = cli.run("config", "check", code=2, env={"GONGKAI_AUDIT_KEY": "too-short"})
    assert "至少 32" in short.output or "at least 32" in short.output
    ok = cli.run("config", "check", env={"GONGKAI_AUDIT_KEY": "k" * 32})
    assert "配置有效" in ok.output


def test_disable_and_reset_end_sessions_and_unlock_clears_the_throttle(cli: Cli) -> None:
    """What the CLI ends or clears is gone for every web process: the rows they read."""
    with sqlite3.connect(cli.db_file) as conn:
        uid = conn.execute("SELECT id FROM gk_user WHERE username = 'bob'").fetchone()[0]
        for n in range(2):
            conn.execute(
                "INSERT INTO gk_staff_session (id, user_id, created_at, seen_at, expires_at, ip,"
                " user_agent) VALUES (?, ?, '2026-12-07 09:00:00+00:00',"
                " '2026-12-07 09:00:00+00:00', '2099-01-01 00:00:00+00:00', '', '')",
                (f"{n:064d}", uid),
            )
        conn.execute(
            "INSERT INTO gk_login_throttle (key, failures, first_at, last_at, blocked_until)"
            " VALUES ('account:bob', 9, '2026-12-07 09:00:00+00:00',"
            " '2026-12-07 09:00:00+00:00', '2099-01-01 00:00:00+00:00')"
        )
    assert "已解除 bob 的登录限制" in cli.run("user", "unlock", "bob").output
    assert "bob 没有登录限制" in cli.run("user", "unlock", "bob").output
    assert "注销其 2 个登录" in cli.run("user", "reset-password", "bob").output
    assert "注销其 0 个登录" in cli.run("user", "disable", "bob").output
    assert "已启用用户 bob" in cli.run("user", "enable", "bob").output
    assert "用户不存在" in cli.run("user", "unlock", "nobody", code=4).output
    with sqlite3.connect(cli.db_file) as conn:
        assert conn.execute("SELECT count(*) FROM gk_staff_session").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM gk_login_throttle").fetchone()[0] == 0
        actions = [r[0] for r in conn.execute("SELECT action FROM gk_audit_event")]
    assert {"user.unlock", "user.sessions_end", "user.enable"} <= set(actions)


def test_the_sandbox_option_works_on_the_sandboxs_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gongkai --sandbox …` reads and writes data/sandbox/ (relative to the working directory,
    as `make run` does), not the file's database, with the sandbox's kept audit key."""
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "config.toml", tmp_path / "data" / "gongkai.db")
    sandbox_db = tmp_path / "data" / "sandbox" / "gongkai.db"
    cli = Cli(tmp_path, config, sandbox_db)
    cli.run("--sandbox", "db", "upgrade")
    cli.run("--sandbox", "user", "add", "sam", "--role", "editor")
    assert sandbox_db.exists() and not (tmp_path / "data" / "gongkai.db").exists()
    with sqlite3.connect(sandbox_db) as conn:
        assert conn.execute("SELECT username FROM gk_user").fetchall() == [("sam",)]
    assert cli.json("--sandbox", "audit", "verify")["ok"] is True
