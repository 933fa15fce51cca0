"""Document dates in the future (日期晚于今天) warn: the decision date of an enforcement notice,
and the signing date (成文日期) of the body, i.e. a date standing on its own line among the last
lines of the body, where the 落款 goes ("2026年12月1日", "二〇二六年十二月一日", also after the
issuer's name or with 印发 in the 版记).

Dates elsewhere in the text (deadlines, effective dates: "自2026年12月1日起施行") may rightly lie
in the future and are not checked; nor is the publication date, which the server sets. Without
context.today (offline review) nothing is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.normalize import normalize

TAIL_LINES = 8  # non-empty lines at the end of the body where a 落款 may stand
MAX_LINE = 200  # a longer line is prose, not a 落款

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0}
_CN_YEAR = "[〇○零一二三四五六七八九]{4}"
_CN_SMALL = "[一二三四五六七八九十]{1,3}"
_S = r"[^\S\n]*"
_DATE = (
    rf"(?:(?P<y>[0-9]{{4}}|{_CN_YEAR}){_S}年{_S}(?P<m>[0-9]{{1,2}}|{_CN_SMALL}){_S}月"
    rf"{_S}(?P<d>[0-9]{{1,2}}|{_CN_SMALL}){_S}日"
    r"|(?P<iy>[0-9]{4})(?P<sep>[-./])(?P<im>[0-9]{1,2})(?P=sep)(?P<id>[0-9]{1,2}))"
)
# Markdown or HTML around the date (**…**, <p align="right">…</p>, > …) is decoration.
_DECOR = r"(?:<[^<>\n]*>|[\s*_>#|~`])*"
# An optional issuer's name before the date, separated by spaces and without sentence
# punctuation or a closing preposition ("会议定于 2026年12月1日"), so a sentence that ends in a
# date is not taken for a signature.
_ISSUER = (
    r"(?:[^\s，。；：、,;:!?！？<>*_#|][^，。；：、,;:!?！？<>\n]{0,59}?"
    r"(?<![于至在为到自从止截前后])\s+)?"
)
_SIGNATURE = re.compile(
    rf"{_DECOR}{_ISSUER}(?P<date>{_DATE}){_S}(?:印发|印)?{_S}[。.]?{_DECOR}",
)


def _cn_number(text: str) -> int:
    """二〇二六 -> 2026 (digit by digit), 十二 -> 12, 二十一 -> 21, 三十 -> 30."""
    if text.isascii():
        return int(text)
    if "十" not in text:
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _date_of(m: re.Match[str]) -> date | None:
    try:
        if m.group("iy"):
            return date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        return date(_cn_number(m.group("y")), _cn_number(m.group("m")), _cn_number(m.group("d")))
    except (ValueError, KeyError):
        return None


def parse_date(text: str) -> date | None:
    """A date written as ISO (2021-05-06, 2021-05-06T10:00), 2021年5月6日 or
    二〇二一年五月六日; None when it is none of these or impossible."""
    folded = normalize(text, drop_separators=False).text.strip()
    try:
        return date.fromisoformat(folded[:10])
    except ValueError:
        pass
    m = re.fullmatch(_DATE, folded)
    return _date_of(m) if m else None


def _tail_lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line) of the last TAIL_LINES non-empty lines, last first."""
    end = len(text)
    seen = 0
    while end > 0 and seen < TAIL_LINES:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if line.strip():
            seen += 1
            yield start, line
        end = start - 1


def signing_dates(body: str) -> list[tuple[tuple[int, int], str, date]]:
    """(span in body, date as written, date) of each signature-line date at the end of body."""
    found = []
    for offset, line in _tail_lines(body):
        if len(line) > MAX_LINE:
            continue
        n = normalize(line, drop_separators=False)
        m = _SIGNATURE.fullmatch(n.text)
        if not m:
            continue
        when = _date_of(m)
        if when is None:
            continue
        start, end = n.span(*m.span("date"))
        found.append(((offset + start, offset + end), line[start:end], when))
    return found


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    today = context.today
    if today is None:
        return
    enforcement = snapshot.get("enforcement")
    if isinstance(enforcement, dict):
        written = enforcement.get("decision_date")
        decided = parse_date(written) if isinstance(written, str) and written.strip() else None
        if isinstance(written, str) and decided is not None and decided > today:
            yield FindingData(
                rule="dates.future_decision",
                severity="warn",
                field="enforcement.decision_date",
                span=(0, len(written)),
                message=f"执法决定日期 {decided.isoformat()} 晚于今天（{today.isoformat()}），"
                "请核对决定书上的日期。",
            )
    body = snapshot.get("body")
    if isinstance(body, str):
        for span, written, when in signing_dates(body):
            if when > today:
                yield FindingData(
                    rule="dates.future_signing",
                    severity="warn",
                    field="body",
                    span=span,
                    message=f"落款日期「{written}」（{when.isoformat()}）晚于今天"
                    f"（{today.isoformat()}），请核对成文日期。",
                )
