"""Spam as evidence (moderation/spam.py through moderation/triage.py): citizens' messages with a
link to a news site, to the P2P platform that cheated them or to a photo of their evidence stay
open; a victim quoting the scam is not hidden; adverts with links to a shop, a WeChat id or a
second signal are spam. Abuse: common insults and their evasions are caught, strong complaints
are not."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import InboxConfig, parse_config
from moderation.deadlines import CHINA
from moderation.normalize import fold
from moderation.spam import LinkJudge, contact_me
from moderation.triage import Triage, TriageInput, TriageResult

RECEIVED = datetime(2025, 11, 11, 10, tzinfo=CHINA).astimezone(UTC)


def inbox(toml: str = "") -> InboxConfig:
    return parse_config(tomllib.loads(toml), "test").inbox


def run(text: str, author: str = "") -> TriageResult:
    return Triage(inbox()).run(TriageInput(text, "feed", "message", author, RECEIVED))


# --- what citizens write -------------------------------------------------------------------

NOT_SPAM = [
    # a news item they react to
    "看了这篇报道 https://www.thepaper.cn/newsDetail_forward_28712345 ，说的就是我们投资的那家"
    "平台，希望你们尽快给个说法。",
    "http://finance.people.com.cn/n1/2025/0612/c1004-40498765.html 这篇文章里说的网贷清退，"
    "我们本地什么时候开始？",
    # the P2P platform that cheated them, with or without the words of a complaint
    "鑫利贷的官网 https://www.xinlidai.com 现在打不开了，之前出借的钱还能拿回来吗",
    "我在“汇盈财富”（www.huiyingcaifu.com）出借了12万元，平台2019年就停止兑付，老板至今没"
    "有被追究，请问立案进展去哪里查？",
    # a photo or a file of their evidence
    "催收人员发来的威胁短信截图：https://img.kuaipic.cn/upload/2025/06/ab12cd.jpg 每天几十个"
    "电话打到我单位，我该怎么办？",
    "聊天记录和转账凭证放在网盘了 https://pan.baidu.com/s/1Ab3dEfGh 提取码：x7k2",
    # a fraud victim quoting the scam: its advert, the scammer's WeChat id and its website
    "我在抖音上看到兼职刷单广告，对方让我加微信 wxid_k8s7a6，又发来网址 www.shuadan-vip.top "
    "让我充值做任务，前后被骗了3.6万元，已经报警，希望帮忙追回。",
    # a payment by WeChat is not a WeChat id; a telephone number to call back is not an advert
    "通过微信转账20000元给了那个贷款中介，之后就联系不上了，联系电话13800138000，请回电。",
    # a question quoting the advert they received
    "收到短信说“无视征信，当天放款”，这种公司合法吗？",
]


@pytest.mark.parametrize("text", NOT_SPAM)
def test_citizens_messages_with_a_link_or_a_quoted_advert_are_not_spam(text: str) -> None:
    result = run(text)
    assert result.status == "open" and not result.hidden, result.flags


SPAM = [
    (
        "【好物推荐】本店新品上架，全场五折包邮！https://shop5567.taobao.com/item1 "
        "https://shop5567.taobao.com/item2 https://shop5567.taobao.com/item3 欢迎选购",
        ("link", "ad"),
    ),
    ("无视征信，黑户可贷，当天放款，加V：dk66688", ("ad", "contact")),
    ("澳门赌场在线博彩，注册就送88元，网址 www.am8888.vip", ("link", "ad")),
    ("宝妈兼职，手机操作，日结工资，扫码进群 https://t.cn/A6xYzQ1", ("link", "ad", "contact")),
    ("内部消息，带单老师每天推荐牛股，ＶＸ：ｇｕ１２３４５６", ("ad", "contact")),
    ("6666666666666666666", ("repeat",)),
]


@pytest.mark.parametrize(("text", "flags"), SPAM)
def test_adverts_with_a_second_signal_are_spam(text: str, flags: tuple[str, ...]) -> None:
    result = run(text)
    assert (result.status, result.hidden, result.flags) == ("spam", True, flags)


def test_one_weak_signal_alone_is_not_spam() -> None:
    assert run("https://shop5567.taobao.com/item1 https://shop5567.taobao.com/item2").status == (
        "open"
    )
    assert run("兼职刷单日结工资月入过万").status == "open"
    assert run("有事加我vx").status == "open"


def test_an_advert_in_the_victims_words_needs_every_weak_signal() -> None:
    # Recovery scams speak to P2P victims in their words (爆雷, 被骗): posted once, a person
    # decides; posted again, it has every weak signal.
    triage = Triage(inbox())
    text = "P2P爆雷被骗的朋友看过来，专业追款，先追回后收费，加微信 zh8866 www.zhuihui.top"
    first = triage.run(TriageInput(text, "feed", "message", "x", RECEIVED))
    assert first.status == "open"
    again = triage.run(TriageInput(text, "feed", "message", "x", RECEIVED))
    assert again.flags == ("link", "ad", "contact", "repeat") and again.status == "spam"


# Characters that spell no listed word, in any order
PLAIN = st.lists(
    st.sampled_from("山水天风云花草树木春夏秋冬东南西北左右高低长短桥河湖海"),
    min_size=12,
    unique=True,
)
HOSTS = st.from_regex(r"[a-z]{3,12}\.(com|cn|top|net)", fullmatch=True)
WEAK = [
    lambda host: f" https://{host}/p/1 ",
    lambda host: "日赚千元",
    lambda host: "加我vx",
]
TRIAGE = Triage(inbox())


@settings(max_examples=60, deadline=None)
@given(PLAIN, HOSTS, st.sampled_from(range(len(WEAK))), st.sampled_from(range(len(WEAK))))
def test_one_weak_signal_never_suffices_and_two_different_ones_do(
    chars: list[str], host: str, first: int, second: int
) -> None:
    text = "".join(chars)
    one = TRIAGE.run(TriageInput(text + WEAK[first](host), "feed", "message", "", RECEIVED))
    assert one.status == "open"
    two = TRIAGE.run(
        TriageInput(text + WEAK[first](host) + WEAK[second](host), "feed", "message", "", RECEIVED)
    )
    assert (two.status == "spam") is (first != second)


# --- the parts ------------------------------------------------------------------------------


def test_link_kinds_from_the_data_file_and_config() -> None:
    judge = LinkJudge(["sh.cn"])
    assert judge.kind("mp.weixin.qq.com") == "新闻"
    assert judge.kind("pan.baidu.com") == "社交"
    assert judge.kind("item.taobao.com") == "购物"
    assert judge.kind("t.cn") == "短链"
    assert judge.kind("jrj.sh.cn") == "政务"
    assert judge.kind("xinlidai.com") == ""
    text = "见 https://mp.weixin.qq.com/s/abc 和 www.xinlidai.com 与 t.cn/A6 以及 a.com/x.png"
    assert judge.counted(text) == 2  # the unknown host and the short link


def test_contact_patterns() -> None:
    assert contact_me(fold("加我 V X 了解"))
    assert contact_me(fold("扣扣：１２３４５６７８"))
    assert contact_me(fold("Telegram: fx_signal88"))
    assert not contact_me(fold("我的QQ邮箱收不到通知"))
    assert not contact_me(fold("已用微信支付了5000元"))
    assert not contact_me(fold("在微信群里看到的广告"))


# --- abuse ----------------------------------------------------------------------------------

ABUSE = [
    "你们这帮 S B，拖了半年不处理",
    "ｓｂ领导",
    "nmsl，还不退钱",
    "办事效率这么低，T.M.D",
    "傻Ｂ平台",
    "煞笔客服",
    "草 泥 马的",
    "艹你妈，钱呢",
    "你是傻★逼吗",
    "狗 官 收钱不办事",
    "一群王八羔子",
    "骗我钱的人去死吧",
    "fuck you all",
]


@pytest.mark.parametrize("text", ABUSE)
def test_insults_and_their_evasions_are_abuse(text: str) -> None:
    result = run(text)
    assert result.hidden and "abuse" in result.flags and result.status == "open"


NOT_ABUSE = [
    "太不负责任了！投诉了三次都没人管",
    "简直是骗子公司，P2P平台把我们的钱卷跑了，监管部门不作为",
    "这些平台就是吸血鬼，黑心老板至今逍遥法外",
    "网银 USB key 插上没反应，SBI 的汇款也到不了",
    "社保局网址 https://sbj.example.gov.cn/sb/query 打不开",
    "我是脑残疾人士，想咨询融资担保贷款贴息政策",
    "3月5日你们说会回复，到现在也没有消息",
    "尼玛次仁咨询小额贷款贴息政策",
    "被逼得走投无路，我只能去死了吗？",
    "让我去死吧，钱全没了",
]


@pytest.mark.parametrize("text", NOT_ABUSE)
def test_strong_complaints_and_look_alikes_are_not_abuse(text: str) -> None:
    result = run(text)
    assert not result.hidden and "abuse" not in result.flags
