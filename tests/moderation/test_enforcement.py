"""moderation.rules.enforcement: 行政执法公示 fields, masking of natural persons, and the
publication deadline in working days."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.findings import FindingData, ReviewContext
from moderation.rules import enforcement
from moderation.rules.enforcement import mask_name

ZWSP = "\u200b"


def context(today: date | None = date(2026, 10, 9)) -> ReviewContext:
    return ReviewContext(
        channels=("portal",), public_channels=frozenset({"portal"}), columns={}, today=today
    )


def penalty(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "authority": "上海市地方金融管理局",
        "target": "上海某某融资担保有限公司",
        "target_type": "legal_person",
        "category": "行政处罚",
        "facts": "该公司未按规定向监管部门报送2025年度审计报告，违反了《融资担保公司监督管理条例》"
        "第三十二条的规定。",
        "basis": "《融资担保公司监督管理条例》第四十二条",
        "decision": "责令改正，处以罚款人民币伍万元。",
        "decision_date": "2026-09-30",
        "document_number": "沪金罚决字〔2026〕第12号",
    }
    data.update(overrides)
    return data


def snapshot(enf: Any = None, **overrides: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "id": 7,
        "kind": "enforcement",
        "title": "行政处罚决定信息公示",
        "summary": "",
        "body": "依据相关规定，现将行政处罚决定信息予以公示。",
        "column": "enforcement",
        "doc_number": "",
        "office": "法规处",
        "disclosure": "proactive",
        "related_id": None,
        "interpretation_forms": [],
        "enforcement": penalty() if enf is None else enf,
        "channels": ["portal"],
    }
    snap.update(overrides)
    return snap


def run(snap: dict[str, Any], ctx: ReviewContext | None = None) -> list[FindingData]:
    return list(enforcement.check(snap, ctx or context()))


def rules(findings: list[FindingData]) -> list[str]:
    return [f.rule for f in findings]


def test_complete_timely_penalty_has_no_findings() -> None:
    assert run(snapshot(), context(date(2026, 10, 9))) == []


def test_other_kinds_are_not_checked() -> None:
    assert run(snapshot(enf={}, kind="notice")) == []


@pytest.mark.parametrize(("key", "label"), enforcement.FIELDS)
def test_each_missing_field_blocks_naming_it_in_chinese(key: str, label: str) -> None:
    findings = run(snapshot(penalty(**{key: ""})))
    missing = [f for f in findings if f.rule == "enforcement.field"]
    assert [f.field for f in missing] == [f"enforcement.{key}"]
    assert label in missing[0].message
    assert missing[0].blocks


def test_whitespace_and_zero_width_only_field_counts_as_missing() -> None:
    findings = run(snapshot(penalty(basis=f" {ZWSP}\u3000")))
    assert [f.field for f in findings if f.rule == "enforcement.field"] == ["enforcement.basis"]


def test_missing_enforcement_block_names_all_eight_fields() -> None:
    findings = run(snapshot(enf={}))
    assert len([f for f in findings if f.rule == "enforcement.field"]) == 8


def test_unknown_category_blocks_but_full_width_spaced_known_one_passes() -> None:
    assert "enforcement.category" in rules(run(snapshot(penalty(category="行政警告"))))
    assert "enforcement.category" not in rules(run(snapshot(penalty(category=" 行政 处罚 "))))


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张某"),
        ("张三丰", "张某某"),
        ("欧阳修", "欧阳某"),
        ("欧阳娜娜", "欧阳某某"),
        ("王 小明", "王某某"),
        (f"李{ZWSP}四", "李某"),
        ("张某", "张某"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_natural_person_name_blocks_with_masked_suggestion() -> None:
    enf = penalty(target="王小明", target_type="natural_person")
    [finding] = [f for f in run(snapshot(enf)) if f.rule == "enforcement.target_unmasked"]
    assert finding.blocks
    assert "王某某" in finding.message
    assert finding.suggestion == "王某某"


def test_untyped_target_that_looks_like_a_name_blocks() -> None:
    enf = penalty(target="李四", target_type="")
    assert "enforcement.target_unmasked" in rules(run(snapshot(enf)))


def test_masked_person_and_short_organisation_names_pass() -> None:
    for enf in (
        penalty(target="王某某", target_type="natural_person"),
        penalty(target="张*（身份证号：310101********1234）", target_type="natural_person"),
        penalty(target="中国银行", target_type=""),
        penalty(target="华夏商行", target_type=""),
    ):
        assert rules(run(snapshot(enf))) == [], enf


def test_name_split_by_zero_width_or_full_width_space_still_blocks() -> None:
    for target in (f"王{ZWSP}小明", "王\u3000小明", "王 小 明"):
        enf = penalty(target=target, target_type="natural_person")
        found = [f for f in run(snapshot(enf)) if f.rule == "enforcement.target_unmasked"]
        assert found and found[0].suggestion == "王某某", target


def test_unmasked_id_number_in_target_blocks_and_suggestion_masks_both() -> None:
    enf = penalty(target="王小明（身份证号：11010519491231002X）", target_type="natural_person")
    findings = run(snapshot(enf))
    number = [f for f in findings if f.rule == "enforcement.number_unmasked"]
    assert number and number[0].suggestion == "110105********002X"
    [target] = [f for f in findings if f.rule == "enforcement.target_unmasked"]
    assert target.suggestion == "王某某(身份证号:110105********002X)"


def test_id_number_and_phone_disguised_with_spaces_and_full_width_digits_block() -> None:
    body = "当事人身份证号 １１０１０５ １９４９１２３１ ００２Ｘ，联系电话 138-0013-8000。"
    found = [f for f in run(snapshot(body=body)) if f.rule == "enforcement.number_unmasked"]
    assert {f.suggestion for f in found} == {"110105********002X", "138****8000"}


def test_credit_code_amounts_and_masked_numbers_are_not_taken_for_personal_numbers() -> None:
    body = (
        "统一社会信用代码：913100001322013497；罚款 13,800,000,000 元；"
        "当事人身份证号 110105********002X，电话 138****8000。"
    )
    assert rules(run(snapshot(body=body))) == []


def test_deadline_counts_national_day_and_make_up_saturday() -> None:
    # Decided 2026-09-30: 10-01..10-07 off, 10-10 (Sat) worked → 7th working day is 10-15.
    on_time = run(snapshot(), context(date(2026, 10, 12)))
    assert on_time == []
    near = run(snapshot(), context(date(2026, 10, 13)))
    assert rules(near) == ["enforcement.deadline_near"]
    assert "将于 2026-10-15" in near[0].message and near[0].severity == "warn"
    due_today = run(snapshot(), context(date(2026, 10, 15)))
    assert "今天" in due_today[0].message
    [late] = run(snapshot(), context(date(2026, 10, 16)))
    assert late.rule == "enforcement.overdue"
    assert late.severity == "block" and late.overridable and not late.blocks
    assert "2026-10-15" in late.message and "逾期 1 个工作日" in late.message


def test_other_enforcement_gets_twenty_working_days() -> None:
    enf = penalty(category="行政检查")
    assert run(snapshot(enf), context(date(2026, 10, 16))) == []
    # 20th working day after 2026-09-30 is 2026-11-03 (with 10-10 worked, 10-01..07 off).
    assert rules(run(snapshot(enf), context(date(2026, 11, 3)))) == ["enforcement.deadline_near"]
    assert rules(run(snapshot(enf), context(date(2026, 11, 4)))) == ["enforcement.overdue"]


def test_settings_change_the_deadline() -> None:
    from dataclasses import replace

    ctx = replace(
        context(date(2026, 10, 12)), settings=replace(context().settings, permit_penalty_days=3)
    )
    assert rules(run(snapshot(), ctx)) == ["enforcement.overdue"]


def test_december_decision_crossing_into_unknown_2027_warns_without_crashing() -> None:
    enf = penalty(decision_date="2026-12-28")
    findings = run(snapshot(enf), context(date(2027, 1, 5)))
    by_rule = {f.rule: f for f in findings}
    assert by_rule["enforcement.calendar_unknown"].severity == "warn"
    assert "2027年" in by_rule["enforcement.calendar_unknown"].message
    # 7 working days: Dec 29, 30, 31, (1 January: 元旦, computed), Jan 4, 5, 6, 7
    assert "2027-01-07" in by_rule["enforcement.deadline_near"].message
    late = run(snapshot(enf), context(date(2027, 1, 8)))
    assert set(rules(late)) == {"enforcement.calendar_unknown", "enforcement.overdue"}


def test_known_year_does_not_warn_about_the_calendar() -> None:
    enf = penalty(decision_date="2026-12-14")
    assert "enforcement.calendar_unknown" not in rules(
        run(snapshot(enf), context(date(2026, 12, 15)))
    )


def test_bad_and_future_decision_dates_block_without_crashing() -> None:
    for value in ("2026-13-45", "九月三十日", "9999-12-31", "2026/09/30"):
        findings = run(snapshot(penalty(decision_date=value)), context(date(2026, 10, 9)))
        assert "enforcement.decision_date" in rules(findings), value
    control_only = run(snapshot(penalty(decision_date="\x00\x01")))
    assert [f.field for f in control_only] == ["enforcement.decision_date"]


def test_ancient_decision_date_is_overdue_and_quick() -> None:
    findings = run(snapshot(penalty(decision_date="0001-01-01")), context(date(2026, 10, 9)))
    assert "enforcement.overdue" in rules(findings)


def test_no_today_skips_the_deadline() -> None:
    assert run(snapshot(penalty(decision_date="2000-01-01")), context(None)) == []


def test_bad_input_never_crashes() -> None:
    huge = "行政处罚" * 2_600_000  # ~10 MB of text
    for snap in (
        snapshot(enf="not a dict"),
        snapshot(enf=["authority"]),
        snapshot(enf={"target": None, "category": 3, "decision_date": None}),
        snapshot(body=huge, enf=penalty(facts=huge[:100_000])),
        snapshot(body="\x00\x07\x1b[31m", title=None, summary=None),
    ):
        assert isinstance(run(snap), list)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([k for k, _ in enforcement.FIELDS] + ["target_type"]),
        st.one_of(st.text(max_size=40), st.none(), st.integers(), st.dates().map(str)),
    ),
    st.text(max_size=200),
)
def test_arbitrary_enforcement_data_never_crashes(enf: dict[str, Any], body: str) -> None:
    for finding in run(snapshot(enf=enf, body=body)):
        assert finding.severity in ("block", "warn")
        assert finding.message
