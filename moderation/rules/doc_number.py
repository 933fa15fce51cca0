"""Document numbers (文号): the year is set in hexagonal brackets 〔〕, as in 沪金规〔2021〕1号
(GB/T 9704-2012). Square, round, lenticular, angle or small brackets around the year warn, with
the corrected number as the suggestion.

The doc_number field (and enforcement.document_number) is checked as a whole; in the body and
the other text fields only 文号-shaped strings count: an issuer's character, the bracketed year,
the sequence number and 号. Court case numbers such as （2021）沪0115民初123号, where the year
comes first, are not 文号 and are left alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.rules.privacy import field_label, text_fields

_OPEN_WRONG = "[(（【［〈《﹝〖｛{<"
_CLOSE_WRONG = "])）】］〉》﹞〗｝}>"
_OPEN = re.escape(_OPEN_WRONG + "〔")
_CLOSE = re.escape(_CLOSE_WRONG + "〕")
# Spaces (not line breaks) and invisible characters someone may slip in.
_GAP = r"(?:[^\S\n]|[\u200b-\u200f\u2060\ufeff]){0,3}"
_YEAR = r"(?P<year>[12１２][0-9０-９]{3})"
_BRACKETED = rf"(?P<open>[{_OPEN}]){_GAP}{_YEAR}{_GAP}(?P<close>[{_CLOSE}])"
# In running text: an issuer's character before the bracket, the sequence number and 号 after.
_IN_TEXT = re.compile(
    rf"[\u4e00-\u9fff]{_GAP}(?P<number>{_BRACKETED}{_GAP}(?P<seq>第?[0-9０-９]{{1,6}}){_GAP}号)"
)
_IN_FIELD = re.compile(_BRACKETED)
DOC_NUMBER_FIELDS = ("doc_number", "enforcement.document_number")


def _wrong(m: re.Match[str]) -> bool:
    return m.group("open") != "〔" or m.group("close") != "〕"


def _year(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", m.group("year"))


def corrected(number: str) -> str:
    """number with every bracketed year set in 〔〕 ("沪金规[2021]1号" -> "沪金规〔2021〕1号")."""
    return _IN_FIELD.sub(lambda m: f"〔{_year(m)}〕", number)


def _finding(field: str, span: tuple[int, int], written: str, suggestion: str) -> FindingData:
    where = "文号" if field == "doc_number" else f"{field_label(field)}中的文号"
    return FindingData(
        rule="doc_number.brackets",
        severity="warn",
        field=field,
        span=span,
        message=f"{where}「{written}」的年份应使用六角括号〔〕括入，应为「{suggestion}」。",
        suggestion=suggestion,
    )


def _field_values(snapshot: dict[str, Any]) -> Iterator[tuple[str, str]]:
    value = snapshot.get("doc_number")
    if isinstance(value, str) and value:
        yield "doc_number", value
    enforcement = snapshot.get("enforcement")
    if isinstance(enforcement, dict):
        value = enforcement.get("document_number")
        if isinstance(value, str) and value:
            yield "enforcement.document_number", value


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    for field, value in _field_values(snapshot):
        if any(_wrong(m) for m in _IN_FIELD.finditer(value)):
            yield _finding(field, (0, len(value)), value, corrected(value))
    for field, text in text_fields(snapshot):
        if field in DOC_NUMBER_FIELDS:
            continue
        for m in _IN_TEXT.finditer(text):
            if _wrong(m):
                seq = unicodedata.normalize("NFKC", m.group("seq"))
                yield _finding(field, m.span("number"), m.group("number"), f"〔{_year(m)}〕{seq}号")
