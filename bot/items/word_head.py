"""The head of a Word document read as an item's fields: the title (the Title style, else the
first heading or the first centered bold or large line, over up to three lines), the 文号 and
the 成文日期 from the header lines around it (a line holding nothing else, with or without a
label such as 文号： or 成文日期：), else the 成文日期 of the closing lines (落款). Works on the
lines bot/items/wordfile.py takes from mammoth's document; knows nothing of mammoth itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from bot.items.schemas import EARLIEST_WRITTEN, LATEST_WRITTEN

HEAD_LINES = 12  # non-empty paragraphs at the top looked at for the title and header lines
AFTER_TITLE = 4  # header lines right after the title ("（2024年3月1日 沪府发〔2024〕3号）")
CLOSING_LINES = 4  # non-empty paragraphs at the end looked at for the 落款's date
TITLE_LINES = 3  # a long title is set over several centered lines
TITLE_MAX = 200

TITLE_STYLES = frozenset({"title", "标题"})
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*[1-9]$")
_GAP = r"[ \u3000]{0,3}"
_OPEN, _CLOSE = re.escape("〔[(（【［〈《﹝〖｛{<"), re.escape("〕])）】］〉》﹞〗｝}>")
_LABEL = r"(?:发文字号|发文文号|文件编号|文号|成文日期|成文时间|发文日期|印发日期)"
_LABELS = re.compile(_LABEL + r"[ \u3000]*[:：]?")
DOC_NUMBER = re.compile(
    rf"[\u4e00-\u9fffA-Za-z]{{1,20}}{_GAP}[{_OPEN}]{_GAP}[12１２][0-9０-９]{{3}}{_GAP}[{_CLOSE}]"
    rf"{_GAP}第?[0-9０-９]{{1,6}}{_GAP}号"
)
_CN_YEAR = "〇○零ＯO一二三四五六七八九"
_CN_NUMBER = "一二三四五六七八九十"
DATE = re.compile(
    rf"(?P<y>[0-9０-９]{{4}}|[{_CN_YEAR}]{{4}}){_GAP}年{_GAP}"
    rf"(?P<m>[0-9０-９]{{1,2}}|[{_CN_NUMBER}]{{1,3}}){_GAP}月{_GAP}"
    rf"(?P<d>[0-9０-９]{{1,2}}|[{_CN_NUMBER}]{{1,3}}){_GAP}日"
    r"|(?<![0-9])(?P<y2>[0-9]{4})[-./](?P<m2>[0-9]{1,2})[-./](?P<d2>[0-9]{1,2})(?![0-9])"
)
# What may stand around the 文号 and the date on a header line besides them.
_SEPARATORS = re.compile(r"[\s，,、;；:：()（）\[\]［］【】〔〕]+")
_CN_DIGITS = {ch: n for n, chars in enumerate(("〇○零ＯO", *"一二三四五六七八九")) for ch in chars}


@dataclass(frozen=True)
class Line:
    """A top-level element of the document: a paragraph's text and look, or a block (a table)."""

    text: str
    style: str = ""  # the paragraph style's name, lower case
    centered: bool = False
    bold: bool = False  # every run with text is bold
    large: bool = False  # every run with text is set at 16 pt (三号) or larger
    block: bool = False


@dataclass
class DocumentHead:
    title: str = ""
    title_from: str = ""  # 标题样式, 首个标题 or 居中加粗行
    doc_number: str = ""
    written_on: date | None = None
    consumed: set[int] = field(default_factory=set)  # elements that became fields, not body


def read_head(lines: list[Line]) -> DocumentHead:
    out = DocumentHead()
    head: list[int] = []
    for k, line in enumerate(lines):
        if line.block or len(head) == HEAD_LINES:
            break
        if line.text:
            head.append(k)
    meta = {k: header_line(lines[k].text) for k in head}
    title_at = _title(lines, head, meta, out)
    if title_at:
        out.title = _joined([lines[k].text for k in title_at])
        out.consumed.update(title_at)
        after = []
        for k in head[head.index(title_at[-1]) + 1 :][:AFTER_TITLE]:
            if meta[k] is None:
                break  # the body begins: a date line further down is the 落款's
            after.append(k)
        around = head[: head.index(title_at[0])] + after
    else:
        around = head
    for k in around:
        found = meta[k]
        if found is None:
            continue
        number, written = found
        out.doc_number = out.doc_number or number
        out.written_on = out.written_on or written
        out.consumed.add(k)
    if out.written_on is None:
        out.written_on = _closing_date(lines, out.consumed)
    return out


def _title(
    lines: list[Line],
    head: list[int],
    meta: dict[int, tuple[str, date | None] | None],
    out: DocumentHead,
) -> list[int]:
    """The title's elements: the first in the head of the Title style, a heading or a display
    line, with the lines right after it of the same kind when it is set over several."""
    candidates = [k for k in head if meta[k] is None and len(lines[k].text) <= TITLE_MAX]
    styled = [k for k in candidates if _title_style(lines[k])]
    found = styled[0] if styled else None
    if found is None:
        found = next((k for k in candidates if _heading(lines[k]) or _display(lines[k])), None)
    if found is None:
        return []
    if styled:
        out.title_from, same = "标题样式", _title_style
    elif _heading(lines[found]):
        out.title_from, same = "首个标题", _never
    else:
        out.title_from, same = "居中加粗行", _display
    title = [found]
    for k in candidates[candidates.index(found) + 1 :]:
        if k != title[-1] + 1 or len(title) == TITLE_LINES or not same(lines[k]):
            break
        title.append(k)
    return title


def _title_style(line: Line) -> bool:
    return line.style in TITLE_STYLES


def _never(line: Line) -> bool:
    return False


def _heading(line: Line) -> bool:
    return bool(_HEADING_STYLE.match(line.style)) and not _masthead(line.text)


def _display(line: Line) -> bool:
    """A line set as a title is in a 公文: centered, bold or large; not the 发文机关标志
    ("……文件") or the 签发人 line above the real one."""
    return line.centered and (line.bold or line.large) and not _masthead(line.text)


def _masthead(text: str) -> bool:
    return (text.endswith("文件") and len(text) <= 30) or text.startswith("签发人")


def _joined(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if out and out[-1].isascii() and out[-1].isalnum() and part[:1].isascii():
            out += " "
        out += part
    return out


def header_line(text: str) -> tuple[str, date | None] | None:
    """(文号, 成文日期) of a line that holds nothing but them (either may be missing, labels
    and brackets around them allowed); None for any other line."""
    numbers = list(DOC_NUMBER.finditer(text))
    dates = [(m, parse_date(m)) for m in DATE.finditer(text)]
    if not numbers and not any(d for _, d in dates):
        return None
    rest = text
    for m in sorted([*numbers, *(m for m, _ in dates)], key=lambda m: m.start(), reverse=True):
        rest = rest[: m.start()] + " " + rest[m.end() :]
    if _SEPARATORS.sub("", _LABELS.sub(" ", rest)):
        return None
    number = "".join(_LABELS.sub("", numbers[0].group(0)).split()) if numbers else ""
    written = next((d for _, d in dates if d is not None), None)
    if not number and written is None:
        return None
    return number, written


def parse_date(m: re.Match[str]) -> date | None:
    """The date a DATE match spells (Arabic or Chinese numerals), None if there is no such day
    or it is outside the 成文日期 range."""
    if m.group("y2"):
        parts = [m.group("y2"), m.group("m2"), m.group("d2")]
    else:
        parts = [m.group("y"), m.group("m"), m.group("d")]
    try:
        year, month, day = (_number(p) for p in parts)
        found = date(year, month, day)
    except (KeyError, ValueError):
        return None
    return found if EARLIEST_WRITTEN <= found <= LATEST_WRITTEN else None


def _number(text: str) -> int:
    text = unicodedata.normalize("NFKC", text)
    if text.isascii() and text.isdigit():
        return int(text)
    if "十" in text:  # 十, 十二, 二十, 二十三
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return int("".join(str(_CN_DIGITS[ch]) for ch in text))


def _closing_date(lines: list[Line], consumed: set[int]) -> date | None:
    """The date line of the 落款 (a line holding only a date, among the last lines); it stays
    in the body."""
    seen = 0
    for k in range(len(lines) - 1, -1, -1):
        line = lines[k]
        if line.block:
            break
        if not line.text or k in consumed:
            continue
        found = header_line(line.text)
        if found is not None and not found[0] and found[1] is not None:
            return found[1]
        seen += 1
        if seen == CLOSING_LINES:
            break
    return None
