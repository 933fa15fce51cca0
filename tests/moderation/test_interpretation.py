"""moderation.rules.interpretation and moderation.interpretation_stats: 退文 for a policy without
an interpretation, formal interpretations (copying, headings only), and interpretation forms."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.findings import FindingData, LinkedItem, ReviewContext
from moderation.interpretation_stats import diversified_rate
from moderation.rules import interpretation
from moderation.rules.interpretation import MIN_PASSAGE, copied_share, heading_only

ZWSP = "\u200b"

POLICY = """关于进一步促进本市融资租赁行业规范发展的若干措施

一、总体要求
为深入贯彻落实国家关于防范化解金融风险的决策部署，推动本市融资租赁行业回归本源、专注主业，更好服务实体经济发展，结合本市实际，制定本措施。

二、主要措施
（一）加强分类监管。市地方金融管理局根据融资租赁公司的经营状况、合规水平和风险程度，将其划分为正常经营、非正常经营和违法违规经营三类，实施差异化监管。
（二）严格准入管理。新设融资租赁公司的注册资本应当为实缴货币资本，且不低于人民币一亿元。
（三）规范业务经营。融资租赁公司应当以融资租赁等租赁业务为主业，不得从事吸收或者变相吸收存款、发放或者受托发放贷款等金融业务。
（四）强化风险防控。融资租赁公司应当建立完善的内部控制制度和风险管理体系，融资租赁和其他租赁资产比重不得低于总资产的百分之六十。

三、保障措施
各区金融工作部门要切实履行属地管理职责，加强与市场监管、公安等部门的协作配合，形成监管合力。本措施自2026年11月1日起施行，有效期至2031年10月31日。
"""

GOOD_INTERPRETATION = """《关于进一步促进本市融资租赁行业规范发展的若干措施》政策解读

一、出台背景是什么？
近年来，部分融资租赁公司偏离主业，实际从事类信贷业务，个别企业甚至卷入非法集资案件，行业风险有所积累。为此，我们在广泛征求企业和区金融工作部门意见的基础上起草了本措施。

二、对已经设立的企业有什么影响？
已设立的企业不需要重新申请。监管部门将根据日常报送的数据进行评估，对于经营正常、合规良好的企业，现场检查频次会相应减少。

三、企业最关心的实缴资本要求如何理解？
这一要求只针对新设企业。存量企业如果注册资本尚未实缴到位，可以在过渡期内逐步补足，具体安排将另行通知。
"""

COPIED_INTERPRETATION = """政策解读
市地方金融管理局根据融资租赁公司的经营状况、合规水平和风险程度，将其划分为正常经营、非正常经营和违法违规经营三类，实施差异化监管。
新设融资租赁公司的注册资本应当为实缴货币资本，且不低于人民币一亿元。
融资租赁公司应当以融资租赁等租赁业务为主业，不得从事吸收或者变相吸收存款、发放或者受托发放贷款等金融业务。
融资租赁公司应当建立完善的内部控制制度和风险管理体系，融资租赁和其他租赁资产比重不得低于总资产的百分之六十。
总的来说，这些措施有利于行业健康发展。
"""

HEADINGS_ONLY = """政策解读
一、总体要求
二、主要措施
（一）加强分类监管
（二）严格准入管理
（三）规范业务经营
（四）强化风险防控
三、保障措施
"""


def linked(body: str = POLICY, kind: str = "policy", status: str = "in_review") -> LinkedItem:
    return LinkedItem(id=1, kind=kind, title="若干措施", body=body, status=status)


def context(**changes: Any) -> ReviewContext:
    base = ReviewContext(channels=("portal",), public_channels=frozenset({"portal"}), columns={})
    return replace(base, **changes)


def policy_snapshot(**overrides: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "id": 1,
        "kind": "policy",
        "title": "关于进一步促进本市融资租赁行业规范发展的若干措施",
        "summary": "",
        "body": POLICY,
        "column": "policy",
        "doc_number": "沪金规〔2026〕3号",
        "office": "地方金融机构处",
        "disclosure": "proactive",
        "related_id": None,
        "interpretation_forms": [],
        "enforcement": {},
        "channels": ["portal"],
    }
    snap.update(overrides)
    return snap


def interp_snapshot(body: str | None = GOOD_INTERPRETATION, **overrides: Any) -> dict[str, Any]:
    return policy_snapshot(
        **{
            "id": 2,
            "kind": "interpretation",
            "title": "《若干措施》政策解读",
            "body": body,
            "related_id": 1,
            "interpretation_forms": ["文字", "图解"],
            "doc_number": "",
            **overrides,
        }
    )


def run(snap: dict[str, Any], ctx: ReviewContext) -> list[FindingData]:
    return list(interpretation.check(snap, ctx))


def rules(findings: list[FindingData]) -> list[str]:
    return [f.rule for f in findings]


# 退文: policy without interpretation


def test_proactive_policy_without_interpretation_is_returned() -> None:
    [finding] = run(policy_snapshot(), context())
    assert finding.rule == "interpretation.missing"
    assert finding.blocks
    assert "缺少政策解读稿件" in finding.message


def test_policy_with_interpretation_or_not_proactive_passes() -> None:
    with_one = context(interpretations=(linked(GOOD_INTERPRETATION, "interpretation"),))
    assert run(policy_snapshot(), with_one) == []
    assert run(policy_snapshot(disclosure="on_request"), context()) == []


def test_retracted_interpretation_does_not_count() -> None:
    gone = context(interpretations=(linked(GOOD_INTERPRETATION, "interpretation", "retracted"),))
    assert rules(run(policy_snapshot(), gone)) == ["interpretation.missing"]


# 形式化解读: copying


def test_interpretation_copying_the_policy_warns_with_the_share() -> None:
    findings = run(interp_snapshot(COPIED_INTERPRETATION), context(related=linked()))
    [finding] = [f for f in findings if f.rule == "interpretation.formal_copy"]
    assert finding.severity == "warn"
    share = copied_share(COPIED_INTERPRETATION, POLICY)
    assert share > 0.8
    assert f"解读稿 {share:.0%} 的内容成段摘抄自原文" in finding.message


def test_real_interpretation_quoting_a_little_does_not_warn() -> None:
    assert copied_share(GOOD_INTERPRETATION, POLICY) < 0.2
    assert run(interp_snapshot(), context(related=linked())) == []


def test_copy_share_respects_the_setting() -> None:
    share = copied_share(COPIED_INTERPRETATION, POLICY)
    lenient = context(
        related=linked(), settings=replace(context().settings, formal_copy_share=share + 0.01)
    )
    assert "interpretation.formal_copy" not in rules(
        run(interp_snapshot(COPIED_INTERPRETATION), lenient)
    )


def test_copy_disguised_with_spaces_zero_width_and_full_width_still_warns() -> None:
    disguised = (
        COPIED_INTERPRETATION.replace("融资", f"融{ZWSP}资")
        .replace("，", ", ")
        .replace("公司", "公 司")
        .replace("六十", "６０")
        .replace("一亿元", "一亿 元")
    )
    assert copied_share(disguised, POLICY) > 0.6
    assert "interpretation.formal_copy" in rules(
        run(interp_snapshot(disguised), context(related=linked()))
    )


def test_one_word_changed_per_sentence_still_counts_as_copied() -> None:
    edited = COPIED_INTERPRETATION.replace("应当", "须").replace("三类", "3类")
    assert copied_share(edited, POLICY) > 0.6


PBC_TITLE = "中国人民银行关于加强个人存款账户管理有关事项的通知"

PBC_POLICY = f"""{PBC_TITLE}

中国人民银行上海总部，各分行、营业管理部，各省会（首府）城市中心支行，各副省级城市中心支行；\
各国有商业银行、股份制商业银行，中国邮政储蓄银行：

为进一步加强个人存款账户管理，保护存款人合法权益，防范电信网络新型违法犯罪，现就有关事项通知如下：

一、自2026年12月1日起，同一个人在同一家银行业金融机构只能开立一个Ⅰ类户。已开立Ⅰ类户，再新开户\
的，应当开立Ⅱ类户或Ⅲ类户。银行业金融机构应当在开户时通过联网核查系统核实存款人身份信息，并留存\
居民身份证件复印件或者影像。

二、银行业金融机构应当加强对个人存款账户的风险监测。对于开户之日起6个月内无交易记录的个人存款\
账户，银行业金融机构应当暂停其非柜面业务，待存款人重新核实身份后方可恢复。

三、出租、出借、出售、购买个人存款账户的，银行业金融机构应当在5年内暂停其个人存款账户的非柜面\
业务，不得为其新开立账户，并纳入中国人民银行征信系统。

四、除向本人同名账户转账外，个人通过自助柜员机转账的，发卡行在受理24小时后办理资金转账。在24小时\
内，个人可以向发卡行申请撤销转账。

五、各银行业金融机构应当于2026年11月30日前完成相关系统改造，并将落实情况报告中国人民银行当地分支\
机构。

本通知自印发之日起施行。执行中如有问题，请及时向中国人民银行报告。

中国人民银行
2026年10月15日
"""

# The 图解 of issue 28: four short lines built from the policy's own terms and a clause or two.
# The old measure (4-character shingles covering 90% of each line) called it 100% copied.
PBC_PICTURE = """一个人在同一家银行只能开立一个Ⅰ类户
开户之日起6个月内无交易记录，暂停非柜面业务
出租出借出售购买个人存款账户，纳入征信系统
自助柜员机转账，24小时内可以申请撤销转账
"""

PBC_PICTURE_TITLED = f"""一图读懂《{PBC_TITLE}》
1. 个人存款账户：同一家银行，每人只能有一个Ⅰ类户，再开就是Ⅱ类户或Ⅲ类户
2. 开户核实身份：银行业金融机构通过联网核查系统核对居民身份证件
3. 出租出借出售个人存款账户：5年内暂停非柜面业务，纳入中国人民银行征信系统
4. 自助柜员机转账：24小时后到账，24小时内可向发卡行申请撤销
"""

PBC_PASTED = f"""《{PBC_TITLE}》解读

一、自2026年12月1日起，同一个人在同一家银行业金融机构只能开立一个Ⅰ类户。已开立Ⅰ类户，再新开户\
的，应当开立Ⅱ类户或Ⅲ类户。银行业金融机构应当在开户时通过联网核查系统核实存款人身份信息，并留存\
居民身份证件复印件或者影像。

二、银行业金融机构应当加强对个人存款账户的风险监测。对于开户之日起6个月内无交易记录的个人存款\
账户，银行业金融机构应当暂停其非柜面业务，待存款人重新核实身份后方可恢复。

三、出租、出借、出售、购买个人存款账户的，银行业金融机构应当在5年内暂停其个人存款账户的非柜面\
业务，不得为其新开立账户，并纳入中国人民银行征信系统。

以上就是通知的主要内容，请广大群众知悉。
"""


def pbc_policy() -> LinkedItem:
    return LinkedItem(id=1, kind="policy", title=PBC_TITLE, body=PBC_POLICY, status="published")


def test_four_line_picture_paraphrase_reusing_the_policys_terms_does_not_warn() -> None:
    share = copied_share(PBC_PICTURE, PBC_POLICY, PBC_TITLE)
    assert 0.0 < share < 0.5  # two quoted clauses, not a copy
    findings = run(interp_snapshot(PBC_PICTURE), context(related=pbc_policy()))
    assert "interpretation.formal_copy" not in rules(findings)


def test_picture_quoting_the_policy_title_and_terms_does_not_warn() -> None:
    assert copied_share(PBC_PICTURE_TITLED, PBC_POLICY, PBC_TITLE) < 0.25
    findings = run(interp_snapshot(PBC_PICTURE_TITLED), context(related=pbc_policy()))
    assert "interpretation.formal_copy" not in rules(findings)


def test_pasted_paragraphs_warn_with_the_share_of_the_interpretation_copied() -> None:
    share = copied_share(PBC_PASTED, PBC_POLICY, PBC_TITLE)
    # Everything but the closing sentence (and the quoted title, which counts neither way).
    assert 0.85 < share < 1.0
    findings = run(interp_snapshot(PBC_PASTED), context(related=pbc_policy()))
    [finding] = [f for f in findings if f.rule == "interpretation.formal_copy"]
    assert f"解读稿 {share:.0%} 的内容成段摘抄自原文" in finding.message


def test_the_share_is_of_the_interpretation_not_of_the_policy() -> None:
    # One paragraph pasted alone is all copy, though it is a small part of the policy.
    paragraph = PBC_PASTED.split("\n\n")[3]
    assert copied_share(paragraph, PBC_POLICY) == 1.0
    # The same paragraph inside an interpretation four times its length is about a quarter.
    own = "这项措施主要针对近年来多发的电信网络诈骗，不法分子常常收购他人账户用于转移赃款。" * 4
    assert 0.15 < copied_share(paragraph + own, PBC_POLICY) < 0.35


def test_shared_terms_shorter_than_a_passage_are_not_copying() -> None:
    terms = ("中国人民银行", "个人存款账户", "银行业金融机构", "非柜面业务", "联网核查系统")
    assert all(len(t) < MIN_PASSAGE for t in terms)
    text = "{}提醒大家：{}要自己管好；{}开户时会用{}核对身份，账户被出租出借的，{}会被暂停。"
    assert copied_share(text.format(*terms), PBC_POLICY) == 0.0


def test_no_related_policy_skips_the_copy_check() -> None:
    assert "interpretation.formal_copy" not in rules(
        run(interp_snapshot(COPIED_INTERPRETATION), context())
    )


# 形式化解读: headings only


def test_headings_only_interpretation_warns() -> None:
    assert heading_only(HEADINGS_ONLY)
    findings = run(interp_snapshot(HEADINGS_ONLY), context())
    assert [f.severity for f in findings if f.rule == "interpretation.headings_only"] == ["warn"]


def test_markdown_and_full_width_numbered_headings_still_count() -> None:
    text = (
        "## 一、总体要求\n\n## 二、主要措施\n\n"
        "１．加强分类监管\n２．严格准入管理\n### 三、保障措施\n"
    )
    assert heading_only(text)
    assert heading_only(HEADINGS_ONLY.replace("、", f"{ZWSP}、"))


def test_headed_interpretation_with_prose_does_not_warn() -> None:
    assert not heading_only(GOOD_INTERPRETATION)
    assert not heading_only("一、背景\n二、要点")  # too short to judge


# forms


def test_unknown_form_blocks_naming_it_and_alias_is_suggested() -> None:
    findings = run(interp_snapshot(interpretation_forms=["文字", "卡通动漫", "直播"]), context())
    unknown = [f for f in findings if f.rule == "interpretation.form_unknown"]
    assert [f.blocks for f in unknown] == [True, True]
    assert "「卡通动漫」" in unknown[0].message and unknown[0].suggestion == "动漫"
    assert "「直播」" in unknown[1].message


def test_known_forms_in_full_width_or_spaced_are_accepted() -> None:
    forms = ["文 字", f"短{ZWSP}视频", "新闻发布会\u3000"]
    assert run(interp_snapshot(interpretation_forms=forms), context()) == []


def test_no_forms_warns() -> None:
    for forms in ([], None, ["", " "]):
        findings = run(interp_snapshot(interpretation_forms=forms), context())
        assert [(f.rule, f.severity) for f in findings] == [
            ("interpretation.forms_missing", "warn")
        ]
        assert "未填写解读形式" in findings[0].message


# 多元化解读率


def test_diversified_rate() -> None:
    assert diversified_rate([]) is None
    assert diversified_rate([["文字"], ["文字", "图解"], ["短视频"], []]) == 0.5
    assert diversified_rate([["文字", "直播"]]) == 0.0  # unknown forms do not count
    assert diversified_rate(iter([["图 解"]])) == 1.0


@given(st.lists(st.lists(st.sampled_from(["文字", "图解", "视频", "直播", ""]), max_size=4)))
def test_diversified_rate_is_a_share(forms: list[list[str]]) -> None:
    rate = diversified_rate(forms)
    if not forms:
        assert rate is None
    else:
        assert rate is not None and 0.0 <= rate <= 1.0


# robustness


def test_bad_input_never_crashes() -> None:
    huge = POLICY * 7000  # ~1.5 M characters; plus a 10 MB paste below
    ten_mb = "融资租赁公司应当建立完善的内部控制制度。" * 520_000
    cases = [
        (interp_snapshot(ten_mb), context(related=linked(ten_mb))),
        (interp_snapshot(huge), context(related=linked(huge))),
        (interp_snapshot(""), context(related=linked(""))),
        (interp_snapshot("\x00\x01\x1b\n\r\t"), context(related=linked("\x00"))),
        (interp_snapshot(None, interpretation_forms=[None, 3, {"a": 1}]), context()),
        (interp_snapshot(interpretation_forms="视频"), context()),
        (policy_snapshot(body=None, disclosure=None), context()),
    ]
    for snap, ctx in cases:
        assert isinstance(run(snap, ctx), list)


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=40))
def test_copied_share_is_a_share_and_self_copy_is_full(a: str, b: str, title: str) -> None:
    assert 0.0 <= copied_share(a, b) <= 1.0
    assert 0.0 <= copied_share(a, b, title) <= 1.0
    share = copied_share(a, a)
    assert share == 1.0 or share == 0.0  # 0.0 when too short to hold one passage


@settings(max_examples=100, deadline=None)
@given(st.text(HAN, min_size=MIN_PASSAGE, max_size=200), st.text(HAN, max_size=200))
def test_identical_chinese_text_is_fully_copied_and_adding_own_text_lowers_it(
    text: str, own: str
) -> None:
    assert copied_share(text, text) == 1.0
    # Own text appended can only lower the share, never raise it.
    assert copied_share(text + "。" + own, text) <= 1.0
    assert copied_share(text + "。" + own, text) >= len(text) / (len(text) + len(own))
