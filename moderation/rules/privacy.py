"""Personal data (隐私): resident ID numbers, mobile numbers, bank-card numbers and e-mail
addresses in an item block it; mask_personal_data() masks them (the inbox reuses it). An
office's address (政务邮箱 at gov.cn, or a domain in [review] official_email_domains) is not
personal data: a 征求意见 notice must be able to say where comments go.

Numbers are found in normalized text (full-width digits folded, invisible characters dropped)
with spaces and hyphens allowed between digits, and reported on the original characters. Only
numbers that pass their own validation are flagged: ID check digit and birth date (GB 11643),
Luhn for cards, the 1[3-9] prefix and length for mobiles.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.normalize import normalize

# What may sit between two digits of one number ("138 0013 8000", "138-0013-8000"): up to
# three spaces or dashes. Newlines, dots and commas end a number: they separate list items,
# decimals and thousands, and joining across them would invent numbers.
_SEP = r"[ \t\u00a0\u2000-\u200a\u202f\u205f\-\u2010-\u2015\u2212]{0,3}"
# A number starts where no digit (and no "digit." decimal point) is just before it, and ends
# where no digit, ID check letter x or ".digit" follows: a digit run inside a longer one is
# no match.
_START = r"(?<![0-9])(?<![0-9]\.)"
_END = r"(?![0-9x]|\.[0-9])"


def _digits(*classes: str) -> str:
    return _SEP.join(classes)


_D = "[0-9]"
_ID = re.compile(
    _START
    + "(?=("
    # region (6), birth date (8: 18xx-20xx, month 0x/1x, day 0x-3x), sequence (3), check
    + _digits("[1-8]", *[_D] * 5, "[12]", "[089]", _D, _D, "[01]", _D, "[0-3]", _D, *[_D] * 3)
    + _SEP
    + "[0-9x])"
    + _END
    + ")"
)
_MOBILE = re.compile(
    _START + "(?=(?:(?:00)?86" + _SEP + ")?(" + _digits("1", "[3-9]", *[_D] * 9) + ")" + _END + ")"
)
_CARDS = tuple(
    re.compile(_START + "(?=(" + _digits("[3-6]", *[_D] * (n - 1)) + ")" + _END + ")")
    for n in range(16, 20)
)
# No leading "local-part" character before the match, so a long run of letters is tried from
# its start only (linear time on any input).
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+\-])"
    r"([a-z0-9._%+\-]{1,64}@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})"
    r"(?![a-z0-9\-])"
)
# Domains whose addresses are an office's, not a person's: gov.cn and every domain under it.
OFFICIAL_EMAIL_DOMAINS = ("gov.cn",)
_GROUP = re.compile(r"[0-9x]+")
# Stretches of at least 11 digits (the shortest number looked for), separators allowed: the
# only places the number patterns run.
_REGION = re.compile("[0-9](?:" + _SEP + "[0-9x]){10,}")
_Hit = tuple[str, int, int, str]  # kind, start, end (normalized offsets), value

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Provinces (GB/T 2260) and the 81/82/83 residence permits of Hong Kong, Macao and Taiwan
# residents, which share the format.
_ID_REGIONS = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Groupings people write mobiles in; any grouping of one- or two-digit pieces is the
# "1 3 8 0 0 …" evasion.
_MOBILE_SHAPES = frozenset({(11,), (3, 4, 4), (3, 8), (7, 4), (4, 4, 3)})

ID, MOBILE, CARD, EMAIL = "resident_id", "mobile", "bank_card", "email"
KIND_NAMES = {ID: "居民身份证号码", MOBILE: "手机号码", CARD: "银行卡号", EMAIL: "电子邮箱地址"}
# When two matches overlap, the first kind here wins (an e-mail address "13800138000@qq.com"
# is reported once, as an address).
_PRIORITY = {EMAIL: 0, ID: 1, CARD: 2, MOBILE: 3}
MAX_FINDINGS_PER_FIELD = 50
FIELD_LABELS = {"title": "标题", "summary": "摘要", "body": "正文"}


def _birth_date(number: str, today: date | None) -> date | None:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if born < date(1900, 1, 1) or (today is not None and born > today):
        return None
    return born


def id_shaped(number: str, today: date | None = None) -> bool:
    """18 characters with a known region and a possible birth date (check digit not tested)."""
    return (
        len(number) == 18
        and number[:17].isascii()
        and number[:17].isdigit()
        and int(number[:2]) in _ID_REGIONS
        and _birth_date(number, today) is not None
    )


def valid_resident_id(number: str, today: date | None = None) -> bool:
    """A resident ID number (GB 11643): region, birth date (not after today) and check digit."""
    if not id_shaped(number, today):
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return number[17].upper() == _ID_CHECK[total % 11]


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check of card numbers."""
    if not number.isascii() or not number.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_uscc(number: str) -> bool:
    """统一社会信用代码 (GB 32100) check character: enforcement notices list them, and an
    all-digit one must not be taken for a card."""
    if len(number) != 18 or any(c not in _USCC_CHARS for c in number):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(number, _USCC_WEIGHTS, strict=False))
    return _USCC_CHARS[(31 - total % 31) % 31] == number[17]


def _card_shape(groups: tuple[int, ...]) -> bool:
    if len(groups) == 1 or max(groups) <= 2 or (len(groups) == 2 and groups[0] == 6):
        return True
    width = groups[0]
    return width <= 4 and all(g == width for g in groups[:-1]) and groups[-1] <= width


@dataclass(frozen=True)
class PersonalData:
    """One piece of personal data: its kind, its span in the original text, the value as
    written without separators, and its masked form."""

    kind: str
    start: int
    end: int
    value: str
    masked: str


def official_email(address: str, domains: Iterable[str] = ()) -> bool:
    """Whether the address is at gov.cn, one of the further official domains, or a subdomain of
    one (x@pbc.gov.cn is; x@evil.gov.cn.example.com and x@fakegov.cn are not)."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    for official in (*OFFICIAL_EMAIL_DOMAINS, *domains):
        official = official.lower().strip(".")
        if official and (domain == official or domain.endswith("." + official)):
            return True
    return False


def mask(kind: str, value: str) -> str:
    """The masked form shown as a suggestion: 310***********1234, 138****5678,
    ************1234, a***@example.com."""
    if kind == ID:
        return value[:3] + "*" * (len(value) - 7) + value[-4:].upper()
    if kind == MOBILE:
        return value[:3] + "****" + value[-4:]
    if kind == CARD:
        return "*" * (len(value) - 4) + value[-4:]
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _number_hits(norm: str, start: int, end: int, today: date | None) -> Iterator[_Hit]:
    """Validated numbers in norm[start:end] (one region), overlapping ones included."""
    end = min(end + 2, len(norm))  # so that _END sees a following ".5"
    for m in _ID.finditer(norm, start, end):
        value = "".join(_GROUP.findall(m.group(1)))
        if valid_resident_id(value, today):
            yield ID, m.start(1), m.end(1), value
    for m in _MOBILE.finditer(norm, start, end):
        groups = _GROUP.findall(m.group(1))
        shape = tuple(len(g) for g in groups)
        if shape in _MOBILE_SHAPES or max(shape) <= 2:
            yield MOBILE, m.start(1), m.end(1), "".join(groups)
    for pattern in _CARDS:
        for m in pattern.finditer(norm, start, end):
            groups = _GROUP.findall(m.group(1))
            value = "".join(groups)
            if (
                _card_shape(tuple(len(g) for g in groups))
                and luhn_valid(value)
                # An ID-shaped number with a wrong check digit is a mistyped ID, not a card;
                # an all-digit credit code is a company's, not a person's.
                and not id_shaped(value, today)
                and not _valid_uscc(value)
            ):
                yield CARD, m.start(1), m.end(1), value


def _resolve_cluster(cluster: list[_Hit]) -> list[_Hit]:
    chosen: list[_Hit] = []
    for hit in sorted(cluster, key=lambda h: (_PRIORITY[h[0]], h[1], h[1] - h[2])):
        if all(hit[2] <= c[1] or hit[1] >= c[2] for c in chosen):
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h[1])


def _resolve(hits: Iterable[_Hit]) -> Iterator[_Hit]:
    """Overlapping hits reduced to the ones that win (_PRIORITY), in order: each cluster of
    mutually overlapping hits is settled on its own."""
    cluster: list[_Hit] = []
    cluster_end = -1
    for hit in sorted(hits, key=lambda h: (h[1], h[2])):
        if cluster and hit[1] >= cluster_end:
            yield from _resolve_cluster(cluster)
            cluster = []
        cluster_end = max(cluster_end, hit[2]) if cluster else hit[2]
        cluster.append(hit)
    yield from _resolve_cluster(cluster)


# A region is searched in chunks, so the first findings of a body that is one wall of numbers
# come without reading it all. A hit is at most ~85 characters long, so REACH characters past
# the chunk find every hit that starts inside it, and none cut short by the chunk's end.
_CHUNK = 4096
_REACH = 256


def _region_hits(norm: str, start: int, end: int, today: date | None) -> Iterator[_Hit]:
    last_end = start
    for a in range(start, end, _CHUNK):
        b = min(a + _CHUNK + _REACH, end)
        for hit in _resolve(_number_hits(norm, a, b, today)):
            if hit[1] >= a + _CHUNK:
                break  # the next chunk finds it
            if hit[1] >= last_end:
                yield hit
                last_end = hit[2]


def _hits(norm: str, today: date | None, official: tuple[str, ...]) -> Iterator[_Hit]:
    """Every hit in norm, in order, not overlapping. Lazy, so a caller wanting the first few
    of a body full of numbers stops early. Official addresses are no hit, but a number inside
    one is not reported either."""
    emails: list[_Hit] = []
    if "@" in norm:
        emails = [(EMAIL, m.start(1), m.end(1), m.group(1)) for m in _EMAIL.finditer(norm)]
    email_ends = [e[2] for e in emails]
    personal = [not official_email(e[3], official) for e in emails]
    k = 0  # next e-mail address to yield
    for region in _REGION.finditer(norm):
        for hit in _region_hits(norm, *region.span(), today):
            while k < len(emails) and emails[k][1] < hit[1]:
                if personal[k]:
                    yield emails[k]
                k += 1
            # A number inside an address ("13800138000@qq.com") is reported as the address.
            i = bisect_right(email_ends, hit[1])
            if i < len(emails) and emails[i][1] < hit[2]:
                continue
            yield hit
    yield from (e for e, p in zip(emails[k:], personal[k:], strict=True) if p)


def iter_personal_data(
    text: str, today: date | None = None, official_domains: Iterable[str] = ()
) -> Iterator[PersonalData]:
    """Every piece of personal data in text, in order, not overlapping. Addresses at gov.cn or
    official_domains (or under them) are an office's, not personal data."""
    if not text:
        return
    n = normalize(text, drop_separators=False)
    for kind, start, end, value in _hits(n.text, today, tuple(official_domains)):
        o_start, o_end = n.span(start, end)
        yield PersonalData(kind, o_start, o_end, value, mask(kind, value))


def find_personal_data(
    text: str, today: date | None = None, official_domains: Iterable[str] = ()
) -> list[PersonalData]:
    """Every piece of personal data in text, in order, not overlapping."""
    return list(iter_personal_data(text, today, official_domains))


def mask_personal_data(
    text: str, today: date | None = None, official_domains: Iterable[str] = ()
) -> str:
    """text with every piece of personal data replaced by its masked form (an official
    address, see iter_personal_data, stays as it is)."""
    pieces: list[str] = []
    last = 0
    for item in find_personal_data(text, today, official_domains):
        pieces.append(text[last : item.start])
        pieces.append(item.masked)
        last = item.end
    pieces.append(text[last:])
    return "".join(pieces)


def _strings(prefix: str, value: Any, depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if value:
            yield prefix, value
    elif depth < 5 and isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(f"{prefix}.{key}", inner, depth + 1)
    elif depth < 5 and isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            yield from _strings(f"{prefix}[{i}]", inner, depth + 1)


def text_fields(snapshot: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field name, text) of every free-text field a reader sees: title, summary, body, and the
    string values of the enforcement fields ("enforcement.target")."""
    for name in ("title", "summary", "body"):
        value = snapshot.get(name)
        if isinstance(value, str) and value:
            yield name, value
    enforcement = snapshot.get("enforcement")
    if isinstance(enforcement, dict):
        yield from _strings("enforcement", enforcement, 0)


def field_label(field: str) -> str:
    """How a field is named to the user: 正文, 执法公示「target」."""
    if field.startswith("enforcement."):
        return f"执法公示「{field.removeprefix('enforcement.')}」"
    return FIELD_LABELS.get(field, field)


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    official = context.settings.official_email_domains
    for field, text in text_fields(snapshot):
        personal = iter_personal_data(text, context.today, official)
        found = list(islice(personal, MAX_FINDINGS_PER_FIELD + 1))
        label = field_label(field)
        for item in found[:MAX_FINDINGS_PER_FIELD]:
            yield FindingData(
                rule=f"privacy.{item.kind}",
                severity="block",
                field=field,
                span=(item.start, item.end),
                message=f"{label}含有{KIND_NAMES[item.kind]}（{item.masked}），属于个人信息，"
                "不得公开；请删除，或按建议遮盖后再提交。",
                suggestion=item.masked,
            )
        if len(found) > MAX_FINDINGS_PER_FIELD:
            yield FindingData(
                rule="privacy.more",
                severity="block",
                field=field,
                message=f"{label}还有更多个人信息（以上只列出前 {MAX_FINDINGS_PER_FIELD} 处），"
                "请全部删除或遮盖后再提交。",
            )
