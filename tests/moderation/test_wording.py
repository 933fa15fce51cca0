"""Wording (错敏词): sensitive words and wrong official terms block, typos warn; evasions with
invisible characters, full-width forms and inserted separators still fire, with spans on the
original characters; longer allowed terms do not; office additions are merged."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.findings import FindingData, ReviewContext, ReviewSettings
from moderation.normalize import fold
from moderation.rules import wording
from moderation.rules.wording import Kind, dictionary

SEPARATORS = [" ", "\u3000", "\n", "，", ".", "、", "*", "-", "|", "★", "·"]
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def context(**review: Any) -> ReviewContext:
    return ReviewContext(
        channels=("website",),
        public_channels=frozenset({"website"}),
        columns={"news": ("notice",)},
        settings=ReviewSettings(**review),
    )


def check(body: str, ctx: ReviewContext | None = None, **fields: Any) -> list[FindingData]:
    snapshot = {"kind": "notice", "title": "关于开展工作的通知", "summary": "", "body": body}
    snapshot.update(fields)
    return list(wording.check(snapshot, ctx or context()))


def covered(body: str, finding: FindingData) -> str:
    assert finding.span is not None
    return body[finding.span[0] : finding.span[1]]


# --- shipped dictionaries ---------------------------------------------------------------------


def test_shipped_dictionaries_load_with_no_entry_skipped() -> None:
    words = dictionary()
    assert words.skipped == ()
    kinds = {e.kind for p in words.patterns for e in p.entries}
    assert kinds == {Kind.SENSITIVE, Kind.WRONG, Kind.TYPO}


def test_no_wrong_term_or_typo_fires_on_its_own_correct_form() -> None:
    entries, _ = wording.shipped()
    words = dictionary()
    for entry in entries:
        if entry.correct:
            hits = wording.scan(f"根据{entry.correct}的要求", words)
            assert [h.entry.word for h in hits if h.entry.kind is not Kind.SENSITIVE] == [], entry


# --- sensitive words --------------------------------------------------------------------------


def test_sensitive_word_blocks_with_its_span() -> None:
    body = "本站不得发布援交信息。"
    [f] = check(body)
    assert (f.rule, f.severity, f.field, f.blocks) == ("wording.sensitive", "block", "body", True)
    assert covered(body, f) == "援交"
    assert "低俗色情" in f.message


def test_sensitive_word_inside_a_longer_allowed_term_does_not_fire() -> None:
    assert check("开展对口支援交流活动，做好救援交通保障。") == []


def test_sensitive_word_hidden_by_zero_width_and_punctuation_still_fires_on_exact_span() -> None:
    body = "现招聘：援\u200b.交，日结。"
    [f] = check(body)
    assert f.rule == "wording.sensitive"
    assert f.span == (4, 8)
    assert covered(body, f) == "援\u200b.交"


def test_secrecy_marking_split_by_spaces_and_line_breaks_fires() -> None:
    body = "附件：内部资料 注意\n保存\n正文如下。"
    [f] = check(body)
    assert covered(body, f) == "内部资料 注意\n保存"


# --- wrong official terms ---------------------------------------------------------------------


def test_wrong_plenary_session_form_blocks_with_the_correct_form_as_suggestion() -> None:
    body = "深入学习贯彻党的十八大三中全会精神。"
    [f] = check(body)
    assert (f.rule, f.severity) == ("wording.wrong_term", "block")
    assert f.suggestion == "十八届三中全会"
    assert covered(body, f) == "十八大三中全会"


def test_correct_forms_do_not_fire() -> None:
    body = (
        "中共中央、国务院印发《意见》，深入学习贯彻党的十八届三中全会精神和"
        "习近平新时代中国特色社会主义思想，推进“一带一路”倡议，东北朝鲜族聚居区，"
        "中国科学院武汉病毒研究所，中华人民共和国成立。"
    )
    assert check(body) == []


def test_wrong_term_in_fullwidth_digits_with_spaces_fires_on_exact_span() -> None:
    body = "学习１８届 ３中全会精神"
    [f] = check(body)
    assert f.suggestion == "十八届三中全会"
    assert covered(body, f) == "１８届 ３中全会"


def test_one_belt_one_road_strategy_and_covid_names_are_corrected() -> None:
    body = "推进“一带一路”战略；做好新冠肺炎防控。"
    findings = check(body)
    assert [(covered(body, f), f.suggestion) for f in findings] == [
        ("一带一路”战略", "“一带一路”倡议"),
        ("新冠肺炎", "新冠病毒感染"),
    ]


def test_misspelled_country_name_with_invisible_characters_fires() -> None:
    body = "《中华\u200d人民\ufeff共合国宪法》"
    [f] = check(body)
    assert f.suggestion == "中华人民共和国"
    assert covered(body, f) == "中华\u200d人民\ufeff共合国"


def test_wrong_abbreviation_of_party_central_and_state_council_fires_outside_correct_form() -> None:
    body = "认真落实中央国务院决策部署"
    [f] = check(body)
    assert (covered(body, f), f.suggestion) == ("中央国务院", "党中央、国务院")


# --- typos ------------------------------------------------------------------------------------


def test_typo_warns_with_suggestion_and_needs_override() -> None:
    body = "请在窗口登记帐号后按装客户端。"
    findings = check(body)
    assert [(f.rule, f.severity, covered(body, f), f.suggestion) for f in findings] == [
        ("wording.typo", "warn", "帐号", "账号"),
        ("wording.typo", "warn", "按装", "安装"),
    ]
    assert all(f.needs_override and not f.blocks for f in findings)


def test_typo_near_misses_do_not_fire() -> None:
    assert check("截至目前，已为群众开通账号；既使企业受益，又方便群众；搭建帐篷。") == []


def test_typo_with_fullwidth_space_and_soft_hyphen_fires() -> None:
    body = "截止\u3000目\u00ad前，全市共受理申请120件。"
    [f] = check(body)
    assert (covered(body, f), f.suggestion) == ("截止\u3000目\u00ad前", "截至目前")


# --- fields and office additions --------------------------------------------------------------


def test_title_summary_and_enforcement_fields_are_checked() -> None:
    findings = check(
        "正文",
        title="关于南朝鲜考察的报告",
        summary="北朝鲜",
        enforcement={"reason": "当事人自称台湾政府官员", "amount": 100},
    )
    assert [(f.field, f.suggestion) for f in findings] == [
        ("title", "韩国"),
        ("summary", "朝鲜"),
        ("enforcement.reason", "台湾当局"),
    ]


def test_office_additions_are_merged_with_the_shipped_lists() -> None:
    ctx = context(
        sensitive_words=("某某内部代号",),
        wrong_terms=(("市府办", "市政府办公室"),),
        typos=(("办事指难", "办事指南"),),
    )
    body = "某某内部\u200b代号；市府办发布办事指难；援交。"
    findings = check(body, ctx)
    got = [(f.rule, covered(body, f), f.suggestion) for f in findings]
    assert got == [
        ("wording.sensitive", "某某内部\u200b代号", ""),
        ("wording.wrong_term", "市府办", "市政府办公室"),
        ("wording.typo", "办事指难", "办事指南"),
        ("wording.sensitive", "援交", ""),
    ]
    assert "本单位词表" in findings[0].message
    assert check("市政府办公室发布办事指南", ctx) == []
    assert check(body) == [f for f in check(body) if f.rule == "wording.sensitive"]


def test_automaton_is_built_once_per_set_of_additions() -> None:
    ctx = context(typos=(("办事指难", "办事指南"),))
    check("甲", ctx)
    before = dictionary.cache_info().hits
    check("乙", ctx)
    check("丙", ctx)
    assert dictionary.cache_info().hits == before + 2
    assert dictionary(typos=(("办事指难", "办事指南"),)) is dictionary(
        typos=(("办事指难", "办事指南"),)
    )


def test_office_entry_too_short_is_skipped_not_flagging_every_character() -> None:
    ctx = context(sensitive_words=("的",), wrong_terms=(("中共中央国务院", "中共中央、国务院"),))
    assert check("我们的工作", ctx) == []
    assert set(dictionary(("的",), (("中共中央国务院", "中共中央、国务院"),)).skipped) == {
        "的",
        "中共中央国务院",
    }


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["", "\x00\x01\x02\x1b[31m", "\ud800\udfff", "   \n\t", "\U0010fffd" * 10]
)
def test_empty_and_control_character_bodies_give_nothing_and_do_not_crash(body: str) -> None:
    assert check(body) == []


def test_non_string_fields_are_ignored() -> None:
    snapshot = {"kind": "notice", "title": None, "summary": 12, "body": ["援交"]}
    assert list(wording.check(snapshot, context())) == []


def test_ten_megabyte_body_gives_findings_and_caps_the_listed_ones() -> None:
    rng = random.Random(7)
    filler = "".join(
        rng.choices("国务院办公厅关于进一步优化政务服务提升行政效能的意见", k=3_000_000)
    )
    body = filler + "援交" * 150 + "帐号" + filler[:400_000]
    assert len(body.encode()) > 10_000_000
    findings = check(body)
    assert len(findings) == wording.MAX_PER_FIELD + 1
    assert all(covered(body, f) == "援交" for f in findings[:-1])
    more = findings[-1]
    assert (more.rule, more.severity) == ("wording.more", "block")
    assert "51" in more.message


# --- property: evasion never moves a span off the word ----------------------------------------

WORDS = [
    "援交",
    "十八大三中全会",
    "中华人民共合国",
    "按装",
    "截止目前",
    "一带一路战略",
    "18届3中全会",
]
FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789"})


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(WORDS),
    st.booleans(),
    st.lists(st.lists(st.sampled_from(SEPARATORS + INVISIBLES), max_size=3), min_size=7),
    st.sampled_from(["", "关于", "根据，", "\u200b", "文件："]),
    st.sampled_from(["", "的通知", "。", " 工作", "\u200b"]),
)
def test_reported_span_covers_exactly_the_word_whatever_is_slipped_between_its_characters(
    word: str, wide: bool, junk: list[list[str]], before: str, after: str
) -> None:
    written = word.translate(FULL_WIDTH) if wide else word
    evasive = "".join(ch + "".join(junk[i]) for i, ch in enumerate(written[:-1])) + written[-1]
    body = before + evasive + after
    [f] = check(body)
    assert covered(body, f) == evasive
    assert fold(covered(body, f)) == fold(word)
