"""Secrecy markers (密级标志): an item marked 秘密/机密/绝密 or as internal material must not be
published, so any such marker blocks.

Levels are matched only in their marking form, because the bare words are ordinary prose in
disclosure documents ("涉及国家秘密、商业秘密的政府信息不予公开", "揭开宇宙的秘密"):
  - with ★ and an optional period: 秘密★1年, 机密★10年, 绝密★长期;
  - with 级: 机密级 (but not 级别);
  - after the label 密级: 密级：秘密; and a period after 保密期限: 保密期限：5年;
  - alone on a line, the way the marking stands in the top corner of a document.
The fixed phrases (内部资料, 内部文件, 不得外传, 注意保密, …) block wherever they appear. Talk
about confidentiality work (保密工作, 保密法, 保密意识) is public business and is not flagged.

Evasions: invisible characters, spaces and punctuation between the characters, full-width
digits and traditional forms are tolerated in the search; the marker is reported on the original
characters and quoted normalized in the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.normalize import normalize
from moderation.rules.privacy import field_label, text_fields

# Up to four non-word characters (spaces, punctuation, symbols, invisible characters) between two
# characters of a marker; never a line break.
_J = r"[^\w\n]{0,4}"


def _word(chars: str) -> str:
    """A regex for chars with junk allowed between them; "|" alternatives per character."""
    return _J.join(f"[{alts}]" for alts in chars.split())


def _words(*words: str) -> str:
    return "(?:" + "|".join(_word(w) for w in words) + ")"


# Simplified and traditional forms, one character class per position.
_LEVEL = _words("秘祕 密", "机機 密", "绝絕 密")
_STAR = r"[★☆✭✮✯]"
_PERIOD = r"(?:\d{1,3}" + _J + "(?:年|" + _words("个個 月") + ")|" + _words("长長 期") + ")"
_PHRASES = _words(
    "内內 部 资資 料",
    "内內 部 文 件",
    "内內 部 传傳 阅閱",
    "内內 部 参參 考",
    "仅僅 供 内內 部",
    "仅僅 限 内內 部",
    "不 得 外 传傳",
    "请請 勿 外 传傳",
    "严嚴 禁 外 传傳",
    "禁 止 外 传傳",
    "注 意 保 密",
)
# Every marker starts with one of these: tested first, so most positions fail at once.
_FIRST = "[秘祕机機绝絕密保内內仅僅不请請严嚴禁注]"
_MARKERS = re.compile(
    f"(?={_FIRST})(?:"
    + "|".join(
        (
            f"(?P<star>{_LEVEL}{_J}{_STAR}(?:{_J}{_PERIOD})?)",
            f"(?P<grade>{_LEVEL}{_J}[级級](?!{_J}[别別]))",
            f"(?P<label>[密]{_J}[级級]{_J}{_LEVEL})",
            f"(?P<term>[保]{_J}[密]{_J}[期]{_J}[限]{_J}{_PERIOD})",
            f"(?P<phrase>{_PHRASES})",
        )
    )
    + ")"
)
# A level alone on its line, decorations allowed around it ("**机密**", "# 绝密", "秘密 1年").
_LINE = re.compile(
    rf"^[^\w\n]*(?P<line>{_LEVEL}(?:{_J}{_STAR})?(?:{_J}{_PERIOD})?)[^\w\n]*$", re.MULTILINE
)
_KIND = {
    "star": "密级标志",
    "grade": "密级标志",
    "label": "密级标注",
    "term": "保密期限标注",
    "phrase": "内部资料标注",
    "line": "密级标志",
}


def find_markers(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, marker as normalized) of every secrecy marker in text, in order."""
    found: dict[tuple[int, int], tuple[int, int, str, str]] = {}
    for pattern in (_MARKERS, _LINE):
        for m in pattern.finditer(text):
            kind = m.lastgroup or "phrase"
            start, end = m.span(kind)
            shown = "".join(normalize(text[start:end], drop_separators=False).text.split())
            found.setdefault((start, end), (start, end, _KIND[kind], shown))
    # Overlapping markers (a line that is also a ★ marking) are one finding: the longest of
    # those starting first.
    result: list[tuple[int, int, str, str]] = []
    for item in sorted(found.values(), key=lambda f: (f[0], -f[1])):
        if not result or item[0] >= result[-1][1]:
            result.append(item)
    return result


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    for field, text in text_fields(snapshot):
        for start, end, kind, shown in find_markers(text):
            yield FindingData(
                rule="secrecy.marker",
                severity="block",
                field=field,
                span=(start, end),
                message=f"{field_label(field)}含有{kind}「{shown}」。涉密或内部资料不得公开发布；"
                "如确已解密或不属于内部资料，请删除该标注后再提交。",
            )
