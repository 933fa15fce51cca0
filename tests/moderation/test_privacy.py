"""Personal data rule: validated numbers and addresses block, with the span on the original
characters, through width, invisible-character and spacing evasions."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date

from hypothesis import assume, given
from hypothesis import strategies as st

from moderation.findings import FindingData, ReviewContext, ReviewSettings
from moderation.rules import privacy

TODAY = date(2025, 6, 1)
CTX = ReviewContext(
    channels=("feed",), public_channels=frozenset({"feed"}), columns={}, today=TODAY
)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_OK = "110101199003074514"  # check digit 4 worked out by hand from WEIGHTS
CARD_OK = "6222021234567890128"  # 19 digits, Luhn valid
FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def luhn_digit(prefix: str) -> str:
    total = 0
    for i, c in enumerate(reversed(prefix)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def run(snapshot: dict[str, object]) -> list[FindingData]:
    return list(privacy.check({"kind": "enforcement", **snapshot}, CTX))


def only(findings: list[FindingData]) -> FindingData:
    assert len(findings) == 1, findings
    return findings[0]


def test_helpers_agree_with_known_numbers() -> None:
    assert id_check(ID_OK[:17]) == ID_OK[17]
    assert luhn_digit(CARD_OK[:-1]) == CARD_OK[-1]


def test_resident_id_in_enforcement_body_blocks_with_masked_suggestion() -> None:
    body = f"当事人：张某某，男，公民身份号码{ID_OK}，住所地上海市黄浦区。"
    f = only(run({"body": body}))
    assert (f.rule, f.severity, f.field, f.blocks) == ("privacy.resident_id", "block", "body", True)
    assert body[f.span[0] : f.span[1]] == ID_OK
    assert f.suggestion == "110***********4514"
    assert "居民身份证号码" in f.message and ID_OK not in f.message


def test_mobile_card_and_email_each_named_in_their_field() -> None:
    findings = run(
        {
            "title": "关于张某举报事项的答复",
            "summary": "联系人手机13800138000。",
            "body": "退款请汇入 6222 0212 3456 7890 128，或来信 zhangsan@example.com。",
            "enforcement": {"target": "某小额贷款公司", "contact": {"email": "li@corp.cn"}},
        }
    )
    got = {(f.rule, f.field, f.suggestion) for f in findings}
    assert got == {
        ("privacy.mobile", "summary", "138****8000"),
        ("privacy.bank_card", "body", "***************0128"),
        ("privacy.email", "body", "z***@example.com"),
        ("privacy.email", "enforcement.contact.email", "l***@corp.cn"),
    }


def test_x_check_digit_is_accepted() -> None:
    first17 = next(
        f"11010119900307{n:03d}" for n in range(1000) if id_check(f"11010119900307{n:03d}") == "X"
    )
    number = first17 + "X"
    assert only(run({"body": f"身份证：{number.lower()}"})).rule == "privacy.resident_id"


def test_near_misses_do_not_fire() -> None:
    wrong_check = ID_OK[:17] + ("5" if ID_OK[17] != "5" else "6")
    bad_birth = "11010119900230" + "123"  # 30 February
    bad_birth += id_check(bad_birth)
    future_birth = "11010120300101" + "123"
    future_birth += id_check(future_birth)
    bad_luhn = CARD_OK[:-1] + str((int(CARD_OK[-1]) + 1) % 10)
    body = "\n".join(
        [
            f"身份证号{wrong_check}（校验位错误）",
            f"出生日期不可能：{bad_birth}，尚未出生：{future_birth}",
            f"卡号{bad_luhn}",
            "发票代码 131001920012，订单号 138001380001，合计 0.13800138000 万元",
            "电话 021-23111111，邮编 200002，罚款 50000 元，文号沪金罚〔2021〕12号",
            # all digits, valid GB 32100 check character, and Luhn valid too
            "统一社会信用代码 513100001000000462",
            "邮箱写作 zhang at example dot com",
        ]
    )
    assert run({"body": body}) == []


def test_full_width_digits_are_caught_on_the_original_characters() -> None:
    body = "请致电１３８００１３８０００咨询。"
    f = only(run({"body": body}))
    assert f.span == (3, 14) and f.suggestion == "138****8000"


def test_zero_width_and_spaces_inside_numbers_keep_exact_span() -> None:
    mobile = "138\u200b0013\u200d8000"
    spaced_id = f"{ID_OK[:6]} {ID_OK[6:14]}\u3000{ID_OK[14:]}"
    card = "6222-0212-3456-7890-128"
    email = "zhang\u200bsan＠ｅｘａｍｐｌｅ．ｃｏｍ"
    for written, rule in [
        (mobile, "privacy.mobile"),
        ("1 3 8 0 0 1 3 8 0 0 0", "privacy.mobile"),
        ("+86 138 0013 8000", "privacy.mobile"),
        (spaced_id, "privacy.resident_id"),
        (ID_OK.translate(FULL), "privacy.resident_id"),
        (card, "privacy.bank_card"),
        (email, "privacy.email"),
    ]:
        body = f"当事人联系方式：{written}。"
        f = only(run({"body": body}))
        assert f.rule == rule
        start = body.index(written.removeprefix("+86 "))
        assert f.span == (start, len(body) - 1), written


def test_mask_personal_data_replaces_every_piece() -> None:
    text = f"张三 {ID_OK}，手机 138 0013 8000，邮箱 zhangsan@example.com，工号 12345。"
    assert privacy.mask_personal_data(text) == (
        "张三 110***********4514，手机 138****8000，邮箱 z***@example.com，工号 12345。"
    )
    assert privacy.mask_personal_data("") == ""


# 征求意见 notices publish the office's own mailbox; that is no one's personal data.
CONSULTATION = """中国人民银行关于《非银行支付机构网络支付业务管理办法（征求意见稿）》\
公开征求意见的通知

为规范非银行支付机构网络支付业务，防范支付风险，保护当事人合法权益，中国人民银行起草了\
《非银行支付机构网络支付业务管理办法（征求意见稿）》，现向社会公开征求意见。公众可通过以下\
途径和方式提出反馈意见：

一、通过电子邮件方式，意见请发送至 tiaofasi@pbc.gov.cn，邮件主题请注明“网络支付办法反馈意见”。
二、通过信函方式，将意见寄至北京市西城区成方街32号中国人民银行条法司（邮编：100800）。

意见反馈截止时间为2026年12月15日。
"""


def review_context(official: tuple[str, ...] = ()) -> ReviewContext:
    return replace(CTX, settings=ReviewSettings(official_email_domains=official))


def test_official_mailbox_in_a_consultation_notice_passes() -> None:
    snapshot = {"kind": "notice", "title": "公开征求意见的通知", "body": CONSULTATION}
    assert list(privacy.check(snapshot, CTX)) == []
    assert privacy.mask_personal_data(CONSULTATION) == CONSULTATION


def test_personal_mailbox_of_a_contact_is_still_found() -> None:
    body = CONSULTATION + "联系人：张三，联系人邮箱 zhangsan1987@163.com。\n"
    f = only(list(privacy.check({"kind": "notice", "body": body}, CTX)))
    assert (f.rule, f.suggestion) == ("privacy.email", "z***@163.com")
    assert body[f.span[0] : f.span[1]] == "zhangsan1987@163.com"
    assert "tiaofasi@pbc.gov.cn" in privacy.mask_personal_data(body)
    assert "zhangsan1987@163.com" not in privacy.mask_personal_data(body)


def test_gov_cn_and_its_subdomains_are_official_and_look_alikes_are_not() -> None:
    for address in ("xinfang@gov.cn", "tiaofasi@pbc.gov.cn", "jrj@sh.gov.cn", "A@PBC.GOV.CN"):
        assert privacy.official_email(address), address
    for address in (
        "x@evil.gov.cn.example.com",
        "x@fakegov.cn",
        "x@gov.cn.evil.com",
        "x@pbc-gov.cn",
        "x@gov.com",
    ):
        assert not privacy.official_email(address), address
    found = privacy.find_personal_data("来信 tiaofasi@evil.gov.cn.example.com 即可")
    assert [p.value for p in found] == ["tiaofasi@evil.gov.cn.example.com"]


def test_configured_official_domains_and_their_subdomains_pass() -> None:
    body = (
        "意见请发送至 yijian@csrc.org.cn 或 bgt@pbc.example.org，个人请勿直接联系 li@example.org。"
    )
    ctx = review_context(("csrc.org.cn", "pbc.example.org"))
    [f] = list(privacy.check({"kind": "notice", "body": body}, ctx))
    assert f.suggestion == "l***@example.org"
    assert len(list(privacy.check({"kind": "notice", "body": body}, CTX))) == 3


def test_official_address_disguised_in_full_width_is_still_official() -> None:
    body = "意见请发送至 ｔｉａｏｆａｓｉ＠ｐｂｃ．ｇｏｖ．ｃｎ。"
    assert list(privacy.check({"kind": "notice", "body": body}, CTX)) == []


def test_a_number_inside_an_official_address_is_not_reported_as_a_mobile() -> None:
    assert privacy.find_personal_data("请发送至 13800138000@sh.gov.cn") == []


REGIONS = ("110101", "310115", "440305", "510107", "620102", "810000")


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(REGIONS))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    first17 = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + id_check(first17)


@given(number=resident_ids(), sep=st.sampled_from(["", " ", "-", "\u200b"]), wide=st.booleans())
def test_every_valid_id_is_caught(number: str, sep: str, wide: bool) -> None:
    written = sep.join([number[:6], number[6:14], number[14:]])
    if wide:
        written = written.translate(FULL)
    body = f"身份证号码：{written}，特此公示。"
    f = only(run({"body": body}))
    assert f.rule == "privacy.resident_id"
    assert f.span == (6, 6 + len(written))


@given(number=resident_ids(), wrong=st.sampled_from("0123456789X"))
def test_id_with_a_wrong_check_digit_is_never_caught(number: str, wrong: str) -> None:
    assume(wrong != number[17])
    assert run({"body": f"身份证号码：{number[:17]}{wrong}。"}) == []


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([16, 17, 19]))
    middle = draw(st.text("0123456789", min_size=length - 3, max_size=length - 3))
    prefix = "62" + middle
    return prefix + luhn_digit(prefix)


@given(number=card_numbers(), grouped=st.booleans())
def test_every_luhn_valid_card_is_caught(number: str, grouped: bool) -> None:
    written = " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if grouped else number
    f = only(run({"body": f"收款账号{written}，户名张三"}))
    assert f.rule == "privacy.bank_card"
    assert f.span == (4, 4 + len(written))


@given(number=card_numbers(), delta=st.integers(1, 9))
def test_card_with_a_mutated_check_digit_is_never_caught(number: str, delta: int) -> None:
    mutated = number[:-1] + str((int(number[-1]) + delta) % 10)
    assert run({"body": f"收款账号{mutated}，户名张三"}) == []


def test_bad_input_never_crashes() -> None:
    controls = "".join(chr(i) for i in range(32)) + "\x7f\ud800\ufeff"
    for snapshot in (
        {"title": "", "summary": "", "body": ""},
        {"body": controls * 100},
        {"body": None, "enforcement": {"target": 1, "list": [None, "138 0013 8000"]}},
        {"enforcement": "not a dict"},
        {"body": "1 " * 200_000},
        {"body": "a@" * 200_000},
    ):
        list(privacy.check(snapshot, CTX))


def test_ten_megabyte_body_is_scanned_to_the_end() -> None:
    para = (
        "根据《政府信息公开条例》，现将行政处罚决定（沪金罚〔2021〕12号）公示，电话021-23111111。\n"
    )
    body = para * (10_000_000 // len(para)) + "当事人手机 138 0013 8000。"
    started = time.perf_counter()
    f = only(run({"body": body}))
    elapsed = time.perf_counter() - started
    assert body[f.span[0] : f.span[1]] == "138 0013 8000"
    assert elapsed < 30, elapsed


def test_a_body_full_of_numbers_lists_a_bounded_number_of_findings() -> None:
    findings = run({"body": "13800138000 " * 10_000})
    assert len(findings) == privacy.MAX_FINDINGS_PER_FIELD + 1
    assert findings[-1].rule == "privacy.more" and findings[-1].blocks
