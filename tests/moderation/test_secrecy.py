"""Secrecy markers block in their marking form and in the fixed phrases, through evasions;
the bare words in ordinary prose do not."""

from __future__ import annotations

from datetime import date

from moderation.findings import FindingData, ReviewContext
from moderation.rules import secrecy

CTX = ReviewContext(
    channels=("feed",), public_channels=frozenset({"feed"}), columns={}, today=date(2025, 6, 1)
)


def run(snapshot: dict[str, object]) -> list[FindingData]:
    return list(secrecy.check({"kind": "notice", **snapshot}, CTX))


def marked(text: str) -> list[str]:
    return [text[f.span[0] : f.span[1]] for f in run({"body": text}) if f.span]


def test_marking_forms_block() -> None:
    body = "秘密★1年\n\n上海市地方金融监督管理局文件\n\n沪金规〔2021〕1号\n\n各有关单位：……"
    f = run({"body": body})[0]
    assert (f.rule, f.severity, f.blocks, f.field, f.span) == (
        "secrecy.marker",
        "block",
        True,
        "body",
        (0, 5),
    )
    assert "秘密★1年" in f.message
    assert marked("**机密**\n\n关于……的通知") == ["机密"]
    assert marked("密级：绝密　保密期限：10年") == ["密级：绝密", "保密期限：10年"]
    assert marked("绝密★长期") == ["绝密★长期"]
    assert marked("本件为机密级文件") == ["机密级"]


def test_fixed_phrases_block_in_any_field() -> None:
    findings = run(
        {
            "title": "内部资料 请勿外传",
            "summary": "会议纪要（内部文件，注意保密）",
            "enforcement": {"facts": "本材料不得外传"},
        }
    )
    assert [(f.field, f.span) for f in findings] == [
        ("title", (0, 4)),
        ("title", (5, 9)),
        ("summary", (5, 9)),
        ("summary", (10, 14)),
        ("enforcement.facts", (3, 7)),
    ]


def test_ordinary_prose_does_not_fire() -> None:
    body = (
        "依据《政府信息公开条例》第十四条，涉及国家秘密、商业秘密、个人隐私的政府信息不予公开。\n"
        "国家秘密的密级分为绝密、机密、秘密三级。\n"
        "本期讲座将揭开量子计算的秘密。\n"
        "各单位要做好保密工作，增强保密意识，机密级别的判定依照保密法执行。\n"
        "秘密，往往藏在细节里。"
    )
    assert run({"body": body}) == []


def test_evasions_still_fire_on_the_original_characters() -> None:
    for written in (
        "秘\u200b密\u200b★\u200b1\u200b年",
        "机 密 ★ １０ 年",
        "内\u200c部·资·料",
        "不 得 外 傳",
        "絕密★長期",
    ):
        body = f"附件：{written}。"
        assert marked(body) == [written], written


def test_bad_input_never_crashes() -> None:
    for snapshot in (
        {"title": "", "body": ""},
        {"body": "".join(chr(i) for i in range(32)) * 1000},
        {"body": None, "enforcement": {"a": [1, None, {"b": "内部资料"}]}},
        {"body": "秘" * 5_000_000 + "密"},
    ):
        list(secrecy.check(snapshot, CTX))
    assert [f.field for f in run({"enforcement": {"a": [1, {"b": "内部资料"}]}})] == [
        "enforcement.a[1].b"
    ]
