"""Document numbers: a year bracketed other than in 〔〕 warns, with the corrected form."""

from __future__ import annotations

from datetime import date

from moderation.findings import FindingData, ReviewContext
from moderation.rules import doc_number

CTX = ReviewContext(
    channels=("feed",), public_channels=frozenset({"feed"}), columns={}, today=date(2025, 6, 1)
)


def run(snapshot: dict[str, object]) -> list[FindingData]:
    return list(doc_number.check({"kind": "policy", **snapshot}, CTX))


def test_doc_number_field_with_square_brackets_warns_with_correction() -> None:
    (f,) = run({"doc_number": "沪金规[2021]1号"})
    assert (f.rule, f.severity, f.field, f.span) == (
        "doc_number.brackets",
        "warn",
        "doc_number",
        (0, 11),
    )
    assert f.suggestion == "沪金规〔2021〕1号" and f.needs_override


def test_every_wrong_bracket_pair_is_corrected() -> None:
    for opening, closing in ["()", "（）", "【】", "［］", "〈〉", "﹝﹞", "〔]"]:
        (f,) = run({"doc_number": f"沪府办发{opening}2020{closing}15号"})
        assert f.suggestion == "沪府办发〔2020〕15号", (opening, closing)


def test_numbers_in_the_body_are_found_and_corrected_in_place() -> None:
    body = (
        "根据《关于规范小额贷款公司经营的通知》（沪金规【2021】12号）"
        "和沪府发(2019)3号，制定本办法。"
    )
    number = "沪金罚决字(2021)第5号"
    findings = run({"body": body, "enforcement": {"document_number": number}})
    texts = {"body": body, "enforcement.document_number": number}
    got = [(f.field, texts[f.field][slice(*f.span or (0, 0))], f.suggestion) for f in findings]
    assert got == [
        ("enforcement.document_number", number, "沪金罚决字〔2021〕第5号"),
        ("body", "【2021】12号", "〔2021〕12号"),
        ("body", "(2019)3号", "〔2019〕3号"),
    ]


def test_correct_numbers_and_court_case_numbers_do_not_fire() -> None:
    body = "依据沪金规〔2021〕1号，参照（2021）沪0115民初12345号判决，见附件（2021年版）第3号表。"
    assert run({"doc_number": "沪金规〔2021〕1号", "body": body}) == []


def test_evasion_with_full_width_digits_spaces_and_zero_width_still_fires() -> None:
    body = "转发沪金规 ［ ２０２１ ］\u200b１号文件"
    (f,) = run({"body": body})
    assert body[f.span[0] : f.span[1]] == "［ ２０２１ ］\u200b１号"
    assert f.suggestion == "〔2021〕1号"


def test_bad_input_never_crashes() -> None:
    for snapshot in (
        {"doc_number": "", "body": ""},
        {"doc_number": None, "body": "\x00\x01[2021]1号" * 1000},
        {"doc_number": "(((((", "enforcement": {"document_number": 5}},
        {"body": "沪" * 5_000_000 + "[2021]1号"},
    ):
        list(doc_number.check(snapshot, CTX))
