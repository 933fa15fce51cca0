"""`gongkai inbox reply` and `gongkai inbox signoff` with [inbox.signoff] in config.toml: a reply
to a 投诉 waits for sign-off, its author's sign-off exits 4 with the two-person rule in Chinese,
a second moderator's queues it (once: again exits 4), --return needs a reason and sends
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_inbox import ORDERS, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path)
    c.config.write_text(
        c.config.read_text(encoding="utf-8") + '\n[inbox.signoff]\ncategories = ["投诉"]\n',
        encoding="utf-8",
    )
    c.run("db", "upgrade")
    for name in ("mia", "nina"):
        c.run("user", "add", name, "--role", "moderator")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    c.run("inbox", "import-hotline", str(tmp_path / "orders.csv"), "--as", "mia", code=4)
    return c


def ids_by_category(cli: Cli) -> dict[str, int]:
    return {c["category"]: c["id"] for c in cli.json("inbox", "list")["comments"]}


def test_a_complaint_reply_waits_and_a_second_moderator_signs_it_off_once(cli: Cli) -> None:
    ids = ids_by_category(cli)
    complaint, question = str(ids["投诉"]), str(ids["咨询"])
    out = cli.run("inbox", "reply", complaint, "--text", "您好，已转执法部门。", "--as", "mia")
    assert "答复已提交审签" in out.output
    reply = cli.json("inbox", "show", complaint)["replies"][0]
    assert reply["status"] == "signoff" and reply["sent_by"] == "user:mia"
    assert cli.json("inbox", "reply", question, "--text", "见官网", "--as", "mia")["status"] == (
        "queued"  # 咨询 is not under sign-off
    )

    rid = str(reply["id"])
    refused = cli.run("inbox", "signoff", rid, "--as", "mia", code=4)
    assert f"两人审签规则：答复 #{rid} 是您撰写或提交的" in refused.output
    done = cli.json("inbox", "signoff", rid, "--as", "nina")
    assert done == {"reply_id": int(rid), "status": "queued"}
    again = cli.run("inbox", "signoff", rid, "--as", "nina", code=4)
    assert "不在待审签状态" in again.output
    shown = cli.json("inbox", "show", complaint)["replies"][0]
    assert shown["status"] == "queued" and shown["signoff_by"] == "user:nina"


def test_return_needs_a_reason_and_sends_nothing(cli: Cli) -> None:
    complaint = str(ids_by_category(cli)["投诉"])
    cli.run("inbox", "reply", complaint, "--text", "不予受理。", "--as", "mia")
    rid = str(cli.json("inbox", "show", complaint)["replies"][0]["id"])
    cli.run("inbox", "signoff", rid, "--return", "--as", "nina", code=2)
    out = cli.run("inbox", "signoff", rid, "--return", "--reason", "请写明依据", "--as", "nina")
    assert f"已退回答复 #{rid}" in out.output
    shown = cli.json("inbox", "show", complaint)["replies"][0]
    assert shown["status"] == "returned" and shown["return_reason"] == "请写明依据"
    assert "审签退回" in cli.run("inbox", "show", complaint).output
