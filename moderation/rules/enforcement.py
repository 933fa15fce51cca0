"""行政执法公示: the structured fields an enforcement notice must carry, masking of a natural
person's name, ID number and phone number, and the publication deadline in working days."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.workdays import add_workdays, calendar_known, workdays_between

__all__ = ["CATEGORIES", "FIELDS", "check", "mask_id_number", "mask_name", "mask_phone"]

FIELDS: tuple[tuple[str, str], ...] = (
    ("authority", "执法机关"),
    ("target", "执法对象"),
    ("category", "执法类别"),
    ("facts", "案由/违法事实"),
    ("basis", "执法依据"),
    ("decision", "处理决定"),
    ("decision_date", "决定日期"),
    ("document_number", "文书号"),
)
CATEGORIES = ("行政许可", "行政处罚", "行政强制", "行政征收", "行政检查", "其他")
SHORT_DEADLINE = frozenset({"行政许可", "行政处罚"})  # 7 working days; the rest get 20
NEAR_DEADLINE_WORKDAYS = 2
# target_type values that say the target is not a natural person: trust them over the name guess.
NOT_A_PERSON = frozenset({"legal_person", "organization", "other_organization"})

COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 轩辕 令狐 端木 独孤 "
    "南宫 西门 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 钟离 闾丘 东郭 百里 呼延 万俟 "
    "第五 梁丘 左丘 拓跋 赫连 公良 乐正 漆雕 壤驷 谷梁 宰父 夹谷 巫马 子车 颛孙 亓官".split()
)
# Endings that make a short name an organisation rather than a person (中国银行, 某某商行).
ORG_SUFFIXES = (
    "公司 银行 集团 中心 商行 商店 超市 药房 药店 餐厅 酒店 宾馆 工厂 协会 学会 学校 医院 "
    "诊所 事务所 合作社 分行 支行 分公司 单位 机构 委员会 研究院 研究所 基金 合伙 门市 "
    "行 店 厂 社 所 局 部 院 馆 园 场 站 会 处 司 校 厅 坊 铺 室 队 庄 苑 城 网 吧"
).split()
MASK_CHARS = "某*×xX"

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PERSON_NAME = re.compile(rf"[{_CJK}·]{{2,6}}")
_LEADING_NAME = re.compile(rf"^[{_CJK}·]+")
_MASKED_NAME = re.compile(rf"^[{_CJK}]{{1,2}}[{re.escape(MASK_CHARS)}]{{1,3}}$")
_MASKED_PREFIX = re.compile(rf"^[{_CJK}]{{1,2}}[{re.escape(MASK_CHARS)}]")
# Digits may be split by spaces or hyphens to slip past a naive check; commas are not allowed,
# so an amount such as 13,800,000,000 元 is not taken for a phone number.
_ID_NUMBER = re.compile(r"(?<![0-9a-z])[0-9](?:[ \t-]?[0-9]){16}[ \t-]?[0-9x](?![0-9a-z])", re.I)
_PHONE = re.compile(r"(?<![0-9])1[3-9](?:[ \t-]?[0-9]){9}(?![0-9])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _clean(text: str) -> str:
    """NFKC width folding with invisible characters (zero-width spaces, controls) removed."""
    kept = (
        ch
        for ch in text
        if unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co", "Cn") or ch in "\n\t"
    )
    return unicodedata.normalize("NFKC", "".join(kept))


def _compact(text: str) -> str:
    return "".join(ch for ch in _clean(text) if not ch.isspace())


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def mask_name(name: str) -> str:
    """张三 → 张某, 张三丰 → 张某某, 欧阳修 → 欧阳某; an already masked name is returned as is."""
    compact = _compact(name)
    if not compact:
        return ""
    if _MASKED_NAME.match(compact):
        return compact
    surname_len = 2 if compact[:2] in COMPOUND_SURNAMES and len(compact) > 2 else 1
    given = len(compact) - surname_len
    return compact[:surname_len] + "某" * min(max(given, 1), 2)


def _id_valid(digits: str) -> bool:
    """An 18-character resident ID number: a plausible birth date and the right check digit."""
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2100:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == digits[17].upper()


def mask_id_number(number: str) -> str:
    """310101199001011234 → 310101********1234 (the birth date hidden)."""
    digits = re.sub(r"[^0-9xX]", "", _clean(number))
    return digits[:6] + "*" * max(len(digits) - 10, 0) + digits[-4:] if digits else ""


def mask_phone(number: str) -> str:
    """13800138000 → 138****8000."""
    digits = re.sub(r"[^0-9]", "", _clean(number))
    return digits[:3] + "****" + digits[7:] if len(digits) == 11 else digits


def _unmasked_numbers(text: str) -> Iterator[tuple[str, str, str]]:
    """(kind label, the number as written in cleaned text, its masked form)."""
    cleaned = _clean(text)
    taken: list[tuple[int, int]] = []
    for m in _ID_NUMBER.finditer(cleaned):
        digits = re.sub(r"[^0-9xX]", "", m.group())
        if _id_valid(digits):
            taken.append(m.span())
            yield "身份证号", m.group(), mask_id_number(digits)
    for m in _PHONE.finditer(cleaned):
        # Digits of an ID number written in groups can look like a phone number.
        if not any(start < m.end() and m.start() < end for start, end in taken):
            yield "手机号", m.group(), mask_phone(m.group())


def _looks_like_person(target: str) -> bool:
    compact = _compact(target)
    if not _PERSON_NAME.fullmatch(compact) or "某" in compact or len(compact) > 4:
        return False
    return not any(compact.endswith(suffix) for suffix in ORG_SUFFIXES)


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_compact(_text(value))[:10])
    except ValueError:
        return None


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    if snapshot.get("kind") != "enforcement":
        return
    data = snapshot.get("enforcement")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        yield FindingData(
            rule="enforcement.format",
            severity="block",
            field="enforcement",
            message="执法公示信息格式不正确，请按执法机关、执法对象、执法类别等字段逐项填写。",
        )
        return
    values = {key: _text(data.get(key)) for key, _ in FIELDS}
    for key, label in FIELDS:
        if not _compact(values[key]):
            yield FindingData(
                rule="enforcement.field",
                severity="block",
                field=f"enforcement.{key}",
                message=f"行政执法公示缺少「{label}」，请补充后再提交。",
            )
    yield from _check_category(values["category"])
    yield from _check_target(values["target"], _text(data.get("target_type")))
    yield from _check_numbers(snapshot, data)
    yield from _check_deadline(values["category"], data.get("decision_date"), context)


def _check_category(category: str) -> Iterator[FindingData]:
    compact = _compact(category)
    if compact and compact not in CATEGORIES:
        yield FindingData(
            rule="enforcement.category",
            severity="block",
            field="enforcement.category",
            message=f"执法类别「{category.strip()}」不在可选范围内：{'、'.join(CATEGORIES)}。",
        )


def _check_target(target: str, target_type: str) -> Iterator[FindingData]:
    compact = _compact(target)
    if not compact:
        return
    natural = target_type.strip() == "natural_person"
    if not natural and target_type.strip() not in NOT_A_PERSON:
        natural = _looks_like_person(compact)
    if not natural:
        return
    if _MASKED_PREFIX.match(compact):
        return
    leading = _LEADING_NAME.match(compact)
    if leading is None:
        return
    run = leading.group()
    # A long run is a name followed by more text (张三男身份证号…); most names are 2–3 characters.
    name = run if len(run) <= 4 else run[:3]
    if name:
        masked = mask_name(name)
        suggestion = masked + compact[len(name) :]
        for _, raw, hidden in _unmasked_numbers(suggestion):
            suggestion = suggestion.replace(raw, hidden)
        yield FindingData(
            rule="enforcement.target_unmasked",
            severity="block",
            field="enforcement.target",
            message=f"执法对象为自然人，姓名须隐去，请写作「{masked}」。",
            suggestion=suggestion,
        )


def _check_numbers(snapshot: dict[str, Any], data: dict[str, Any]) -> Iterator[FindingData]:
    """Resident ID and mobile numbers must be partly starred wherever they appear."""
    places: list[tuple[str, str]] = [
        (f"enforcement.{key}", _text(value))
        for key, value in data.items()
        if key != "decision_date" and isinstance(value, str | int)
    ]
    places += [(key, _text(snapshot.get(key))) for key in ("title", "summary", "body")]
    for field_name, text in places:
        for label, _raw, hidden in _unmasked_numbers(text):
            yield FindingData(
                rule="enforcement.number_unmasked",
                severity="block",
                field=field_name,
                message=f"公示内容含未隐去的{label}，请部分隐去后再提交，如「{hidden}」。",
                suggestion=hidden,
            )


def _check_deadline(category: str, raw_date: Any, context: ReviewContext) -> Iterator[FindingData]:
    if raw_date is None or not _compact(_text(raw_date)):
        return  # reported as a missing field
    decided = _parse_date(raw_date)
    if decided is None:
        yield FindingData(
            rule="enforcement.decision_date",
            severity="block",
            field="enforcement.decision_date",
            message=f"决定日期「{_text(raw_date).strip()[:40]}」格式不正确，应为 YYYY-MM-DD。",
        )
        return
    today = context.today
    if today is None:
        return
    if decided > today:
        yield FindingData(
            rule="enforcement.decision_date",
            severity="block",
            field="enforcement.decision_date",
            message=f"决定日期 {decided.isoformat()} 晚于今天，请核对。",
        )
        return
    short = _compact(category) in SHORT_DEADLINE
    settings = context.settings
    days = settings.permit_penalty_days if short else settings.other_enforcement_days
    try:
        deadline, known = add_workdays(decided, days)
        remaining, known_remaining = workdays_between(today, deadline)
    except OverflowError:
        return  # a deadline past year 9999 is not near
    if not (known and known_remaining):
        first, last = sorted((decided.year, deadline.year, today.year))[::2]
        unknown = [str(y) for y in range(first, last + 1) if not calendar_known(y)]
        yield FindingData(
            rule="enforcement.calendar_unknown",
            severity="warn",
            field="enforcement.decision_date",
            message=f"{'、'.join(unknown[:5])}年的节假日安排尚未公布，公示期限暂按周一至周五"
            f"并扣除放假办法规定的法定节假日计算（未计调休，{deadline.isoformat()}），请人工核对。",
        )
    kind = "行政许可、行政处罚" if short else "其他行政执法"
    if today > deadline:
        yield FindingData(
            rule="enforcement.overdue",
            severity="block",
            overridable=True,
            field="enforcement.decision_date",
            message=f"已超过公示期限：{kind}决定应自作出之日起 {days} 个工作日内公示"
            f"（决定日期 {decided.isoformat()}，期限 {deadline.isoformat()}），"
            f"{f'已逾期 {-remaining} 个工作日。' if remaining < 0 else ''}"
            "如确需发布，请审核人填写理由。",
        )
    elif remaining <= NEAR_DEADLINE_WORKDAYS:
        when = "今天" if remaining == 0 else f"{remaining} 个工作日后"
        yield FindingData(
            rule="enforcement.deadline_near",
            severity="warn",
            field="enforcement.decision_date",
            message=f"公示期限将于 {deadline.isoformat()}（{when}）到期，请尽快审核发布。",
        )
