"""moderation.triage: realistic comments to a local financial regulator go through spam,
abuse, masking, category, petition, knowledge, routing and deadline steps with the right
outcome, and the per-author memory catches repetition and flooding."""

from __future__ import annotations

import tomllib
import typing
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConfigError, InboxConfig, TriageConfig, parse_config
from moderation.deadlines import CHINA
from moderation.knowledge import KbDoc, KnowledgeBase
from moderation.triage import CATEGORIES, STEPS, Triage, TriageInput, TriageResult

# Tuesday 2025-11-11 10:00 in Shanghai: 1 working day -> Wed 11-12, 5 -> Tue 11-18.
RECEIVED = datetime(2025, 11, 11, 10, tzinfo=CHINA).astimezone(UTC)
DUE_1 = datetime(2025, 11, 12, 17, 30, tzinfo=CHINA).astimezone(UTC)
DUE_5 = datetime(2025, 11, 18, 17, 30, tzinfo=CHINA).astimezone(UTC)
ID_NUMBER = "11010519491231002X"  # the GB 11643 example number; its check digit is valid

KB = KnowledgeBase.build(
    [
        KbDoc(
            "faq:1",
            "小额贷款公司设立备案需要提交哪些材料？",
            "申请设立小额贷款公司，应向所在区金融工作部门提交设立申请书、可行性研究报告、"
            "股东资格证明和公司章程草案。",
            "设立小额贷款公司需提交申请书、可行性研究报告、股东资格证明、章程草案等材料。",
        ),
        KbDoc(
            "item:12",
            "关于开展2025年度典当行年审工作的通知",
            "各典当行应于2025年6月30日前提交年审材料，包括经审计的财务报表和经营情况报告。",
            "典当行年审材料请于6月30日前提交。",
            office="地方金融监管二处",
        ),
    ]
)


def inbox(toml: str = "") -> InboxConfig:
    return parse_config(tomllib.loads(toml), "test").inbox


def comment(
    text: str,
    author: str = "author-1",
    at: datetime = RECEIVED,
    channel: str = "wechat",
    item_office: str = "",
) -> TriageInput:
    return TriageInput(text, channel, "message", author, at, item_office)


def run(text: str, **kwargs: typing.Any) -> TriageResult:
    return Triage(inbox(), KB).run(comment(text, **kwargs))


# --- realistic messages ------------------------------------------------------------------------

REALISTIC = [
    # text, category, office, status, hidden, flags
    (
        "请问小额贷款公司设立备案需要提交哪些材料？",
        "咨询",
        "地方金融监管一处",
        "open",
        False,
        (),
    ),
    ("融资担保公司的注册资本最低要求是多少？", "咨询", "地方金融监管一处", "open", False, ()),
    ("典当行可以开展网络借贷业务吗", "咨询", "地方金融监管二处", "open", False, ()),
    (
        "我要投诉某理财平台，承诺保本高收益，现在平台跑路了，钱一直不退！",
        "投诉",
        "金融稳定处",
        "open",
        False,
        (),
    ),
    (
        "举报一家小贷公司暴力催收，收砍头息，还天天打电话骚扰我家人。",
        "投诉",
        "地方金融监管一处",
        "open",
        False,
        (),
    ),
    (
        "建议加强对商业保理公司的监管，及时公开监管评级结果。",
        "建议",
        "地方金融监管二处",
        "open",
        False,
        (),
    ),
    (
        "我在网上投资虚拟货币被骗了二十万，走投无路了，求助！",
        "求助",
        "金融稳定处",
        "open",
        False,
        (),
    ),
    (
        "表扬政策法规处的张老师，政府信息公开申请答复及时，耐心细致，点赞！",
        "表扬",
        "政策法规处",
        "open",
        False,
        (),
    ),
    (
        "我要申请信访，反映融资租赁公司拖欠我工资的问题，已经上访过两次。",
        "信访类",
        "办公室",  # 信访 and 上访 route to 办公室 twice, 融资租赁 to 二处 once
        "petition",
        False,
        ("petition",),
    ),
    ("你们这些狗官，收了钱不办事，不得好死", "其他", "办公室", "open", True, ("abuse",)),
    (
        "兼职刷单，日结工资，加微信 abc12345 了解详情",
        "其他",
        "办公室",
        "spam",
        True,
        ("ad", "contact"),
    ),
    (
        "高收益理财点这里 http://licai-888.top/reg?id=1 稳赚",
        "其他",
        "办公室",
        "spam",
        True,
        ("link", "ad"),
    ),
    ("好好好好好好好好好好好好好好好好", "其他", "办公室", "spam", True, ("repeat",)),
    (
        f"我的身份证号{ID_NUMBER}，手机13800138000，典当行不退当票怎么办？",
        "投诉",  # 不退 (投诉) ties 怎么办 (求助): the complaint wins the tie
        "地方金融监管二处",
        "open",
        False,
        ("personal_data",),
    ),
    ("今天天气不错", "其他", "办公室", "open", False, ()),
]


@pytest.mark.parametrize(("text", "category", "office", "status", "hidden", "flags"), REALISTIC)
def test_realistic_comment_is_triaged(
    text: str, category: str, office: str, status: str, hidden: bool, flags: tuple[str, ...]
) -> None:
    result = run(text)
    assert (result.category, result.office, result.status) == (category, office, status)
    assert result.hidden is hidden
    assert result.flags == flags


def test_spam_is_kept_with_everything_a_person_needs_if_it_is_not_spam() -> None:
    result = run("兼职刷单，日结工资，加微信了解 13800138000")
    assert result.status == "spam" and result.hidden
    assert result.masked_text == "兼职刷单，日结工资，加微信了解 138****8000"
    assert result.due_at == DUE_5 and result.office == "办公室"


# --- spam ----------------------------------------------------------------------------------------


def test_a_link_alone_is_never_spam_but_counts_with_another_signal() -> None:
    assert run("通知原文见 https://jrj.sh.gov.cn/tz/123 第三条怎么理解").status == "open"
    assert run("通知里提到的www.gov.cn链接打不开").status == "open"
    assert run("详情请看 www.licai888.com").status == "open"
    # Bare domains with a common top-level domain and full-width URLs are links all the same.
    assert run("上 licai888.vip 领取收益，加我vx").flags == ("link", "contact")
    assert run("ｈｔｔｐ：//ｌｉｃａｉ．ｃｏｍ 免费领取").flags == ("link", "ad")
    assert run("ｗｗｗ．ｌｉｃａｉ８８８．ｃｏｍ 日赚千元").flags == ("link", "ad")


def test_numbers_versions_and_email_addresses_are_not_links() -> None:
    assert run("第3.2条和v1.5版本的规定有何不同，免费领取的资料在哪").status == "open"
    assert run("请回复到我的邮箱 zhang.san@qq.com，谢谢，点这里").status == "open"


def test_allowed_link_count_is_configurable() -> None:
    triage = Triage(inbox("[inbox.triage]\nmax_links = 1"), KB)
    assert triage.run(comment("点这里 https://example.com/a")).status == "open"
    assert triage.run(comment("点这里 https://example.com/a 和 https://example.org/b")).flags == (
        "link",
        "ad",
    )


def test_same_text_from_same_author_is_evidence_and_a_third_copy_is_spam() -> None:
    triage = Triage(inbox(), KB)
    text = "强烈要求彻查某理财平台的资金去向，还我们血汗钱"
    assert triage.run(comment(text, "a")).status == "open"
    assert triage.run(comment(text, "b", RECEIVED + timedelta(minutes=1))).status == "open"
    # A second copy is one weak signal (people send again when no answer comes) ...
    again = triage.run(comment(text + "！", "a", RECEIVED + timedelta(hours=2)))
    assert again.status == "open"
    # ... a third within the window is spam whatever it says.
    third = triage.run(comment(text, "a", RECEIVED + timedelta(hours=3)))
    assert third.status == "spam" and third.flags == ("repeat",)
    # After the window (one day by default) the same text is a new comment.
    later = triage.run(comment(text, "a", RECEIVED + timedelta(days=2)))
    assert later.status == "open"


def test_a_second_copy_with_an_advert_is_spam() -> None:
    triage = Triage(inbox(), KB)
    text = "内部渠道低息贷款，秒批到账"
    assert triage.run(comment(text, "a")).status == "open"  # 秒批 alone: one signal
    again = triage.run(comment(text, "a", RECEIVED + timedelta(minutes=5)))
    assert again.status == "spam" and again.flags == ("ad", "repeat")


def test_short_replies_repeated_in_a_conversation_are_not_spam() -> None:
    triage = Triage(inbox(), KB)
    results = [
        triage.run(comment("好的，谢谢", "a", RECEIVED + timedelta(minutes=i))) for i in range(3)
    ]
    assert [r.status for r in results] == ["open"] * 3


def test_flood_by_one_author_in_a_sliding_window() -> None:
    triage = Triage(inbox("[inbox.triage]\nflood_max_messages = 3\nflood_window_seconds = 60"))
    at = [RECEIVED + timedelta(seconds=s) for s in (0, 10, 20, 30, 50, 100)]
    statuses = [
        triage.run(comment(f"第{i}条留言内容各不相同{i}", "a", t)).status for i, t in enumerate(at)
    ]
    # At 30 s and 50 s three earlier comments lie within 60 s: one too many. At 100 s only the
    # one at 50 s does, so the window has slid past the burst.
    assert statuses == ["open", "open", "open", "spam", "spam", "open"]
    assert triage.run(comment("另一位作者的留言", "b", at[3])).status == "open"
    # 50 s and 100 s are within 60 s of 101 s: two, below the limit of three.
    assert triage.run(comment("又一条留言", "a", at[5] + timedelta(seconds=1))).status == "open"


def test_anonymous_comments_are_not_counted_as_one_author() -> None:
    triage = Triage(inbox("[inbox.triage]\nflood_max_messages = 2"))
    results = [triage.run(comment(f"匿名留言{i}号内容", "", RECEIVED)) for i in range(5)]
    assert all(r.status == "open" for r in results)


# --- abuse, masking ------------------------------------------------------------------------------


def test_abuse_is_found_through_separators_and_width_and_stays_open() -> None:
    result = run("你们就是一群狗 官！！处理个投诉要半年")
    assert result.hidden and "abuse" in result.flags and result.status == "open"
    assert run("ＳＢ，傻·逼").flags == ("abuse",)


def test_allowed_longer_term_is_not_abuse() -> None:
    assert run("我是脑残疾人士，想咨询融资担保贷款贴息政策").hidden is False


def test_config_abuse_and_spam_words_extend_the_lists() -> None:
    triage = Triage(inbox('[inbox.triage]\nabuse_words = ["饭桶"]\nspam_words = ["高息揽储"]'))
    assert triage.run(comment("一群饭桶")).flags == ("abuse",)
    assert triage.run(comment("高息揽储，年化20%，详询微信 lc8888", "b")).flags == (
        "ad",
        "contact",
    )


def test_personal_data_is_masked_and_flagged() -> None:
    result = run(f"身份证{ID_NUMBER}，电话 138-0013-8000，银行卡 6222 0212 3456 7890 128")
    assert ID_NUMBER not in result.masked_text and "138-0013-8000" not in result.masked_text
    assert "110***********002X" in result.masked_text and "138****8000" in result.masked_text
    assert result.flags == ("personal_data",)


def test_citizens_email_is_masked_and_an_offices_mailbox_is_left_alone() -> None:
    text = "我已按征求意见通知发邮件到 tiaofasi@pbc.gov.cn，没有回音，请回复我 zhangsan1987@163.com"
    result = run(text)
    assert "zhangsan1987@163.com" not in result.masked_text
    assert "z***@163.com" in result.masked_text and "tiaofasi@pbc.gov.cn" in result.masked_text
    assert result.flags == ("personal_data",)
    other = "证监会的意见箱 yijian@csrc.org.cn 也没有回复"
    assert run(other).masked_text == "证监会的意见箱 y***@csrc.org.cn 也没有回复"
    configured = Triage(inbox(), KB, official_email_domains=["csrc.org.cn"])
    result = configured.run(comment(other))
    assert result.masked_text == other and "personal_data" not in result.flags


# --- category, simple questions, routing, deadline ------------------------------------------


def test_simple_question_gets_the_kb_answer_and_one_working_day() -> None:
    result = run("请问小额贷款公司设立备案需要提交哪些材料？")
    assert result.simple is True
    assert result.suggested_source == "faq:1"
    assert result.suggested_answer.startswith("设立小额贷款公司")
    assert 0.6 <= result.confidence <= 1.0
    assert result.due_at == DUE_1 and result.calendar_known


def test_kb_hit_on_a_complaint_is_a_suggestion_not_a_simple_question() -> None:
    result = run("投诉：典当行年审材料提交以后一直没有回音")
    assert result.category == "投诉" and result.simple is False
    assert result.suggested_source == "item:12"
    assert result.due_at == DUE_5


def test_question_without_a_good_kb_hit_is_not_simple() -> None:
    result = run("请问私募基金管理人登记找哪个部门？")
    assert result.category == "咨询" and result.simple is False
    assert result.suggested_answer == "" and result.confidence == 0.0
    assert result.due_at == DUE_5


def test_no_knowledge_base_means_no_suggestion() -> None:
    result = Triage(inbox()).run(comment("请问小额贷款公司设立备案需要提交哪些材料？"))
    assert result.simple is False and result.suggested_source == ""


def test_set_knowledge_replaces_the_knowledge_base() -> None:
    triage = Triage(inbox())
    triage.set_knowledge(KB)
    assert triage.knowledge is KB
    assert triage.run(comment("请问小额贷款公司设立备案需要提交哪些材料？")).simple


def test_petition_has_no_clock() -> None:
    result = run("本人申请信访，要求复查某区金融办的处理意见")
    assert result.status == "petition" and result.due_at is None
    assert result.calendar_known is True and "petition" in result.flags


def test_linked_item_office_beats_keywords_and_keywords_beat_the_default() -> None:
    assert run("小额贷款公司的问题", item_office="政策法规处").office == "政策法规处"
    assert run("小额贷款公司的问题").office == "地方金融监管一处"
    assert run("你们几点下班").office == "办公室"
    assert Triage(inbox('[inbox.triage]\ndefault_office = "综合处"')).run(
        comment("你们几点下班")
    ).office == ("综合处")


def test_config_office_keywords_override_the_file() -> None:
    triage = Triage(inbox('[inbox.triage]\noffice_keywords = { "普惠金融处" = ["小额贷款"] }'))
    assert triage.run(comment("小额贷款公司的问题")).office == "普惠金融处"


def test_config_category_keywords_add_and_move_keywords() -> None:
    triage = Triage(inbox('[inbox.triage]\ncategory_keywords = { "投诉" = ["乱扣费", "希望"] }'))
    assert triage.run(comment("某典当行乱扣费")).category == "投诉"
    assert triage.run(comment("希望尽快处理", "b")).category == "投诉"
    only = Triage(
        inbox(
            "[inbox.triage]\nshipped_category_keywords = false\n"
            'category_keywords = { "建议" = ["希望"] }'
        )
    )
    assert only.run(comment("我要投诉")).category == "其他"


def test_channel_clock_from_config_and_calendar_unknown_flag() -> None:
    triage = Triage(inbox('[inbox.deadlines]\nchannel_workdays = { "feed" = 10 }'))
    result = triage.run(comment("建议公开监管评级", channel="feed"))
    assert result.due_at == datetime(2025, 11, 25, 17, 30, tzinfo=CHINA).astimezone(UTC)
    december = datetime(2026, 12, 28, 10, tzinfo=CHINA).astimezone(UTC)
    late = triage.run(comment("建议公开监管评级", "b", december))
    assert late.calendar_known is False and late.flags == ("calendar_unknown",)
    assert late.due_at is not None


def test_simple_question_on_new_years_eve_2026_is_due_on_the_first_working_day_of_2027() -> None:
    # chinesecalendar does not know 2027; 元旦 (Friday 1 January) is computed as a holiday.
    eve = datetime(2026, 12, 31, 15, tzinfo=CHINA).astimezone(UTC)
    result = run("请问小额贷款公司设立备案需要提交哪些材料？", at=eve)
    assert result.simple is True
    assert result.due_at == datetime(2027, 1, 4, 17, 30, tzinfo=CHINA).astimezone(UTC)
    assert result.calendar_known is False and result.flags == ("calendar_unknown",)


# --- shape ---------------------------------------------------------------------------------


def test_categories_match_the_config_schema() -> None:
    field = TriageConfig.model_fields["category_keywords"].annotation
    assert set(typing.get_args(typing.get_args(field)[0])) == set(CATEGORIES)


def test_steps_run_in_the_documented_order() -> None:
    names = [s.__name__ for s in STEPS]
    assert names == [
        "links",
        "ad_words",
        "contact",
        "repeat",
        "flood",
        "spam",
        "abuse",
        "mask",
        "category",
        "petition",
        "knowledge_search",
        "route",
        "deadline",
    ]


def test_flood_memory_survives_pruning_of_many_other_authors() -> None:
    triage = Triage(inbox("[inbox.triage]\nflood_max_messages = 2"))
    for i in range(2):
        triage.run(comment(f"第{i}条", "a", RECEIVED))
    for i in range(5000):  # more authors than the memory holds before it forgets stale ones
        triage.run(comment("留言", f"other-{i}", RECEIVED + timedelta(seconds=1)))
    assert triage.run(comment("第3条", "a", RECEIVED + timedelta(seconds=2))).flags == ("flood",)


def test_unknown_category_in_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"inbox\.triage\.category_keywords"):
        inbox('[inbox.triage]\ncategory_keywords = { "闲聊" = ["你好"] }')
