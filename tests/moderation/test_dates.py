"""Future document dates warn: the enforcement decision date and the signing date in the body."""

from __future__ import annotations

from datetime import date

from moderation.findings import FindingData, ReviewContext
from moderation.rules import dates

TODAY = date(2025, 6, 1)


def ctx(today: date | None = TODAY) -> ReviewContext:
    return ReviewContext(
        channels=("feed",), public_channels=frozenset({"feed"}), columns={}, today=today
    )


def run(snapshot: dict[str, object], today: date | None = TODAY) -> list[FindingData]:
    return list(dates.check({"kind": "notice", **snapshot}, ctx(today)))


NOTICE = (
    "各区人民政府，市政府各委、办、局：\n\n"
    "现将《上海市小额贷款公司监管办法》印发给你们，请认真按照执行。本办法自2025年12月1日起施行。\n\n"
    "上海市地方金融监督管理局\n\n"
    "{date}\n\n"
    "（此件公开发布）"
)


def test_future_signing_date_warns_on_its_span() -> None:
    body = NOTICE.format(date="2026年12月1日")
    (f,) = run({"body": body})
    assert (f.rule, f.severity, f.field) == ("dates.future_signing", "warn", "body")
    assert body[f.span[0] : f.span[1]] == "2026年12月1日"
    assert "2026-12-01" in f.message and "2025-06-01" in f.message


def test_future_decision_date_warns() -> None:
    (f,) = run({"enforcement": {"decision_date": "2025-06-02", "target": "某公司"}})
    assert (f.rule, f.field, f.span) == (
        "dates.future_decision",
        "enforcement.decision_date",
        (0, 10),
    )


def test_past_dates_and_dates_in_prose_do_not_fire() -> None:
    body = NOTICE.format(date="2025年6月1日") + "\n\n会议定于 2026年3月1日"
    assert run({"body": body, "enforcement": {"decision_date": "2025-05-30"}}) == []
    assert run({"body": "本办法自2026年12月1日起施行。"}) == []
    # an impossible date is not taken for a future one
    assert (
        run({"body": "正文\n\n2026年2月30日", "enforcement": {"decision_date": "2026-02-30"}}) == []
    )
    # offline review: no today, nothing to compare with
    assert run({"body": NOTICE.format(date="2030年1月1日")}, today=None) == []


def test_other_signature_forms_are_recognised() -> None:
    for written in ("二〇二六年十二月三十一日", "２０２６年\u200b１２月１日", "2026 年 1 月 5 日"):
        body = f'正文。\n\n<p align="right">**{written}**</p>'
        (f,) = run({"body": body})
        assert body[f.span[0] : f.span[1]] == written
    body = "正文。\n\n上海市人民政府办公厅　　　　2026年1月5日印发"
    (f,) = run({"body": body})
    assert body[f.span[0] : f.span[1]] == "2026年1月5日"


def test_bad_input_never_crashes() -> None:
    for snapshot in (
        {"body": "", "enforcement": {"decision_date": ""}},
        {"body": None, "enforcement": {"decision_date": 20260101}},
        {"enforcement": "2026-01-01"},
        {"body": "\x00\x01\n" * 1000 + "2026年十十月一日"},
        {"body": "2026年12月1日" * 1_000_000},
    ):
        run(snapshot)
