"""Pre-review at the command line, driven through click's CliRunner against a real SQLite file:
`gongkai review FILE` shows each finding on its text and exits 5 when something blocks,
`gongkai findings ITEM` lists an item's findings, and `gongkai finding override` lets a
reviewer (never the author) accept one in writing so the item can be approved."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from tests.cli import test_main as test_cli
from tests.cli.test_main import NOTICE, Cli

# The fixtures of test_main.py, used here too.
fresh = test_cli.fresh
cli = test_cli.cli

ZWSP, ZWJ = "\u200b", "\u200d"
# Rich writes colour only to a terminal unless told; wide, so a context line is never wrapped.
COLOUR = {"FORCE_COLOR": "1", "COLUMNS": "200", "TERM": "xterm-256color"}
STYLED = re.compile(r"\x1b\[([0-9;]+)m(.*?)\x1b\[0m")


def resident_id(first17: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_NUMBER = resident_id("44030419900101123")  # 深圳福田, born 1990-01-01
MASKED_ID = ID_NUMBER[:3] + "*" * 11 + ID_NUMBER[-4:]


def notice(body: str, title: str = "关于假期办事大厅服务时间调整的通知", **extra: str) -> str:
    fields = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return (
        f'+++\nkind = "通知公告"\ntitle = "{title}"\ncolumn = "notice"\n'
        f'disclosure = "主动公开"\n{fields}+++\n\n{body}\n'
    )


def reverse_video(output: str) -> list[str]:
    """The pieces of output printed in reverse video (the offending text)."""
    return [text for codes, text in STYLED.findall(output) if "7" in codes.split(";")]


def stored(cli: Cli) -> list[int]:
    """Rows of items, findings and audit events in the database file."""
    with sqlite3.connect(cli.db_file) as conn:
        return [
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("gk_item", "gk_finding", "gk_audit_event")
        ]


def submitted(cli: Cli, author: str, content: str) -> str:
    item_id = str(cli.add_item(author, content))
    cli.run("submit", item_id, "--as", author)
    return item_id


def findings(cli: Cli, item_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli.json("findings", item_id)
    return found


# -- gongkai review -----------------------------------------------------------------------------
def test_review_highlights_a_resident_id_suggests_its_mask_and_exits_5(cli: Cli) -> None:
    path = cli.file("id.md", notice(f"申请人李某，身份证号{ID_NUMBER}，已办结。"))
    out = cli.run("review", path, code=5, env=COLOUR).output
    assert reverse_video(out) == [ID_NUMBER]
    assert f"建议：{MASKED_ID}" in out
    assert "[阻止] body" in out and "居民身份证号码" in out


def test_review_json_spans_point_at_the_original_characters_despite_zero_width(
    cli: Cli,
) -> None:
    evasion = f"代{ZWSP}办{ZWJ}假证"
    body = f"近期有人冒充工作人员{evasion}，根据《中华人民共合国刑法》将依法追究。"
    path = cli.file("evasion.md", notice(body))
    result = cli.run("review", path, "--json", code=5)
    by_rule = {f["rule"]: f for f in json.loads(result.stdout)}
    assert set(by_rule) == {"wording.sensitive", "wording.wrong_term"}
    sensitive, wrong = by_rule["wording.sensitive"], by_rule["wording.wrong_term"]
    # Offsets count from the start of the body, so they index the body as written.
    assert body[slice(*sensitive["span"])] == evasion
    assert body[slice(*wrong["span"])] == "中华人民共合国"
    assert wrong["suggestion"] == "中华人民共和国"
    assert (sensitive["severity"], sensitive["overridable"]) == ("block", False)


def test_review_highlights_the_evasion_in_the_title(cli: Cli) -> None:
    evasion = f"代{ZWSP}办{ZWSP}假{ZWSP}证"
    path = cli.file("title.md", notice("请提高警惕。", title=f"关于{evasion}的风险提示"))
    out = cli.run("review", path, code=5, env=COLOUR).output
    assert reverse_video(out) == [evasion]
    assert "[阻止] title" in out and "代办假证" in out


def test_review_with_only_a_typo_warns_with_the_correction_and_exits_0(cli: Cli) -> None:
    path = cli.file("typo.md", notice("请使用本人帐号登录办事平台。"))
    out = cli.run("review", path, env=COLOUR).output
    assert reverse_video(out) == ["帐号"]
    assert "[警告] body" in out and "建议：账号" in out
    [finding] = json.loads(cli.run("review", path, "--json").stdout)
    assert (finding["rule"], finding["severity"], finding["suggestion"]) == (
        "wording.typo",
        "warn",
        "账号",
    )


def test_review_of_a_clean_file_passes_and_stores_nothing(cli: Cli) -> None:
    before = stored(cli)
    assert "预审通过" in cli.run("review", cli.file("ok.md", NOTICE)).output
    assert json.loads(cli.run("review", cli.file("ok.md", NOTICE), "--json").stdout) == []
    blocked = cli.file("bad.md", notice(f"身份证号{ID_NUMBER}，代办假证。"))
    cli.run("review", blocked, code=5)
    assert stored(cli) == before


def test_review_of_a_missing_or_malformed_file_is_refused(cli: Cli) -> None:
    assert "文件不存在" in cli.run("review", str(cli.tmp / "none.md"), code=4).output
    broken = cli.file("broken.md", '+++\nkind = "备忘录"\ntitle = "x"\n+++\n正文\n')
    assert "kind" in cli.run("review", broken, code=4).output


# -- gongkai findings / finding override ------------------------------------------------------
def test_override_by_a_reviewer_clears_the_column_warning_so_approval_goes_through(
    cli: Cli,
) -> None:
    item_id = submitted(cli, "alice", NOTICE.replace('column = "notice"', 'column = "policy"'))
    [warning] = [f for f in findings(cli, item_id) if f["stage"] == "submit"]
    assert (warning["rule"], warning["needs_override"]) == ("required.column_kind", True)
    assert "待确认" in cli.run("findings", item_id).output

    out = cli.run("approve", item_id, "--as", "bob", code=4).output
    assert f"#{warning['id']}" in out

    reason = "该通知涉及政策执行安排，经研究放入政策文件栏目"
    fid = str(warning["id"])
    out = cli.run("finding", "override", fid, "--reason", reason, "--as", "bob").output
    assert f"已确认预审提示 #{fid}" in out
    [after] = [f for f in findings(cli, item_id) if f["id"] == warning["id"]]
    assert (after["overridden_by"], after["override_reason"]) == ("user:bob", reason)
    wide = cli.run("findings", item_id, env={"COLUMNS": "300"}).output  # no wrapping in cells
    assert f"user:bob：{reason}" in wide and "待确认" not in wide

    assert "已批准" in cli.run("approve", item_id, "--as", "bob").output


def test_override_is_refused_for_the_author_an_editor_and_an_unknown_finding(cli: Cli) -> None:
    item_id = submitted(cli, "carol", NOTICE.replace('column = "notice"', 'column = "policy"'))
    [warning] = [f for f in findings(cli, item_id) if f["stage"] == "submit"]
    fid = str(warning["id"])
    before = stored(cli)
    out = cli.run("finding", "override", fid, "--reason", "没问题", "--as", "carol", code=4).output
    assert "自己撰写" in out
    out = cli.run("finding", "override", fid, "--reason", "没问题", "--as", "alice", code=4).output
    assert "reviewer" in out
    out = cli.run("finding", "override", fid, "--reason", "  ", "--as", "bob", code=4).output
    assert "书面理由" in out
    assert "--reason" in cli.run("finding", "override", fid, "--as", "bob", code=2).output
    out = cli.run("finding", "override", "999", "--reason", "理由", "--as", "bob", code=4).output
    assert "#999 不存在" in out
    assert stored(cli) == before
    assert findings(cli, item_id)[0]["overridden_at"] is None


def test_override_of_a_privacy_block_is_refused_as_not_overridable(cli: Cli) -> None:
    item_id = submitted(cli, "alice", notice(f"申请人身份证号{ID_NUMBER}。"))
    assert cli.json("item", "show", item_id)["item"]["status"] == "returned"
    [block] = [
        f
        for f in findings(cli, item_id)
        if f["rule"] == "privacy.resident_id" and f["stage"] == "submit"
    ]
    assert block["suggestion"] == MASKED_ID and block["needs_override"] is False
    fid = str(block["id"])
    out = cli.run("finding", "override", fid, "--reason", "已获同意", "--as", "bob", code=4).output
    assert "不可豁免" in out


def test_findings_of_an_unknown_item_is_refused(cli: Cli) -> None:
    assert "#999 不存在" in cli.run("findings", "999", code=4).output
    assert "#999 不存在" in cli.run("findings", "999", "--json", code=4).output
