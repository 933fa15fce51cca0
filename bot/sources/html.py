"""Turn the HTML body of an upstream feed entry into the Markdown our items are written in:
sanitize it with nh3 (allowed tags only, script and style dropped with their content, only
http(s) and mailto links), then write Markdown whose text is escaped so that nothing in it
becomes markup it was not in the source (bot/items/render.py renders Markdown with raw HTML off).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import nh3

_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "svg"}
_BLOCKS = {"p", "div", "blockquote", "pre", "ul", "ol", "li", "table", "tr", "hr"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Characters that are Markdown syntax anywhere in a line; `&` only where it starts an entity.
# < and > become entities, so a stored body holds no angle bracket a careless reader of the
# Markdown could take for a tag; Markdown renders them as the characters.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|])|&(?=#?[0-9A-Za-z]+;)|([<>])")
_ANGLES = {"<": "&lt;", ">": "&gt;"}
# Constructs that are Markdown only at the start of a line: headings, quotes, list items,
# thematic breaks and setext underlines; and ordered list markers ("1." / "1)")
_LINE_START = re.compile(r"^(\s*)([#>+=~-])")
_ORDERED_START = re.compile(r"^(\s*\d{1,9})([.)])")
_BREAK = "\x01"  # a <br> until the paragraph is written (whitespace is collapsed first)
_SPAN_MAX = 100  # a merged cell's colspan/rowspan beyond this is taken as this (a Markdown row)
_CELL_BLOCKS = _BLOCKS | set(_HEADINGS)
_SPACE = re.compile(r"[ \t\r\n\f\u00a0]+")


def sanitize(fragment: str, tags: set[str] | frozenset[str]) -> str:
    """The fragment with only `tags` kept (attributes limited to links and images)."""
    allowed = set(tags)
    attributes = {tag: attrs for tag, attrs in _ATTRIBUTES.items() if tag in allowed}
    return nh3.clean(
        fragment,
        tags=allowed,
        clean_content_tags=_DROP_WITH_CONTENT - allowed,
        attributes=attributes,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment (a title, a summary): tags removed, entities decoded, spaces
    collapsed. The result is text, to be escaped wherever it is put into HTML."""
    cleaned = nh3.clean(fragment, tags=set(), clean_content_tags=_DROP_WITH_CONTENT)
    return _SPACE.sub(" ", html.unescape(cleaned)).strip()


def to_markdown(fragment: str, tags: set[str] | frozenset[str]) -> str:
    """Sanitize an HTML fragment and write it as Markdown."""
    writer = _MarkdownWriter()
    writer.feed(sanitize(fragment, tags))
    writer.close()
    return writer.result()


def escape(text: str) -> str:
    """Markdown-escape inline text so it renders as exactly these characters."""
    return _INLINE_SPECIAL.sub(
        lambda m: _ANGLES[m.group(2)] if m.group(2) else "\\" + (m.group(1) or "&"), text
    )


def _escape_line_starts(block: str) -> str:
    return "\n".join(
        _ORDERED_START.sub(r"\1\\\2", _LINE_START.sub(r"\1\\\2", line))
        for line in block.split("\n")
    )


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0
    # column -> rows below still covered by a merged cell (rowspan) above: Markdown has no
    # merged cells, so the covered places are written empty and the columns stay aligned.
    covered: dict[int, int] = field(default_factory=dict)

    def _skip_covered(self) -> None:
        row = self.rows[-1]
        while self.covered.get(len(row), 0) > 0:
            self.covered[len(row)] -= 1
            row.append("")

    def add_cell(self, text: str, colspan: int = 1, rowspan: int = 1) -> None:
        if not self.rows:
            self.rows.append([])
        self._skip_covered()
        row = self.rows[-1]
        for k in range(colspan):
            if rowspan > 1:
                self.covered[len(row)] = rowspan - 1
            row.append("" if k else text)

    def end_row(self) -> None:
        if self.rows:
            self._skip_covered()

    def markdown(self) -> str:
        width = max((len(r) for r in self.rows), default=0)
        if not width:
            return ""
        rows = [r + [""] * (width - len(r)) for r in self.rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)


class _MarkdownWriter(HTMLParser):
    """Walks sanitized HTML (so only the allowed, well-known tags arrive) and writes blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int]] = []  # (Markdown, serial of its list or 0)
        self.list_serial = 0
        self.inline: list[str] = []  # the paragraph being written
        self.lists: list[list[int | None]] = []  # per open list: [next number] or [None]
        self.marker = ""  # the list item marker of the paragraph being written
        self.code: list[str] | None = None  # raw text of an inline code span
        self.quote = 0
        self.pre: list[str] | None = None
        self.links: list[str] = []
        self.heading = 0
        self.table: _Table | None = None
        self.cell: list[str] | None = None
        self.span = (1, 1)  # (colspan, rowspan) of the open cell
        self.nested = 0  # tables open inside the open cell: their text joins the cell's

    # -- blocks ---------------------------------------------------------------------------
    def _flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self.inline)).strip(" " + _BREAK)
        text = re.sub(f" ?{_BREAK}+ ?", "\\\\\n", text)
        self.inline = []
        marker, self.marker = self.marker, ""
        if not text:
            return
        text = marker + _escape_line_starts(text)
        if self.heading:
            text = "#" * self.heading + " " + text.replace("\\\n", " ")
        self._emit(text)

    def _emit(self, block: str) -> None:
        prefix = ""
        if self.lists:
            depth = len(self.lists) - 1
            prefix = "   " * depth
        if self.quote:
            prefix = "> " * self.quote + prefix
        lines = block.split("\n")
        text = "\n".join(prefix + line if line else prefix.rstrip() for line in lines)
        self.blocks.append((text, self.list_serial if self.lists else 0))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self.pre is not None:
            return
        if self.cell is not None and (tag in _CELL_BLOCKS or tag in ("td", "th")):
            self.nested += tag == "table"
            if self.cell and self.cell[-1] != " ":
                self.cell.append(" ")  # a cell holds one line: its blocks are set apart
            return
        if tag in ("td", "th") and self.table is not None:
            self.cell = []
            self.span = (_span(values.get("colspan", "")), _span(values.get("rowspan", "")))
            return
        if tag == "tr" and self.table is not None:
            self.table.rows.append([])
            return
        if tag == "table":
            self._flush()
            self.table = _Table()
            return
        if self.cell is not None:  # inline markup inside a table cell
            self._inline_start(tag, values, self.cell)
            return
        if tag in _HEADINGS:
            self._flush()
            self.heading = _HEADINGS[tag]
        elif tag == "pre":
            self._flush()
            self.pre = []
        elif tag == "hr":
            self._flush()
            self._emit("---")
        elif tag == "blockquote":
            self._flush()
            self.quote += 1
        elif tag in ("ul", "ol"):
            self._flush()
            start = values.get("start", "")
            number = int(start) if start.isdigit() and len(start) < 9 else 1
            if not self.lists:
                self.list_serial += 1
            self.lists.append([number if tag == "ol" else None])
        elif tag == "li":
            self._flush()
            if self.lists:
                current = self.lists[-1][0]
                self.marker = "- " if current is None else f"{current}. "
                if current is not None:
                    self.lists[-1][0] = current + 1
        elif tag in _BLOCKS:
            self._flush()
        else:
            self._inline_start(tag, values, self.inline)

    def handle_endtag(self, tag: str) -> None:
        if self.pre is not None:
            if tag == "pre":
                code = "".join(self.pre).strip("\n")
                fence = "```" if "```" not in code else "~~~~"
                self.pre = None
                self._emit(f"{fence}\n{code}\n{fence}")
            return
        if self.nested and tag in ("table", "tr", "td", "th"):
            self.nested -= tag == "table"
            return
        if tag in ("td", "th") and self.cell is not None and self.table is not None:
            text = _SPACE.sub(" ", "".join(self.cell).replace(_BREAK, " ")).strip()
            self.table.add_cell(text, *self.span)
            self.cell = None
            return
        if tag == "tr" and self.table is not None and self.cell is None:
            self.table.end_row()
            return
        if tag == "table" and self.table is not None:
            table, self.table = self.table, None
            rendered = table.markdown()
            if rendered:
                self._emit(rendered)
            return
        if self.cell is not None:
            if tag not in _CELL_BLOCKS:
                self._inline_end(tag, self.cell)
            return
        if tag in _HEADINGS:
            self._flush()
            self.heading = 0
        elif tag == "blockquote":
            self._flush()
            self.quote = max(0, self.quote - 1)
        elif tag in ("ul", "ol"):
            self._flush()
            if self.lists:
                self.lists.pop()
        elif tag in _BLOCKS:
            self._flush()
        else:
            self._inline_end(tag, self.inline)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.pre is not None:
            self.pre.append(data)
            return
        if self.code is not None:
            self.code.append(data)
            return
        target = self.cell if self.cell is not None else self.inline
        if self.table is not None and self.cell is None:
            return  # whitespace between table rows
        target.append(escape(data))

    # -- inline ---------------------------------------------------------------------------
    def _inline_start(self, tag: str, values: dict[str, str], out: list[str]) -> None:
        if tag in ("strong", "b"):
            out.append("**")
        elif tag in ("em", "i"):
            out.append("*")
        elif tag == "code":
            self.code = []
        elif tag == "br":
            out.append(_BREAK)
        elif tag == "a":
            href = values.get("href", "")
            self.links.append(href)
            if href:
                out.append("[")
        elif tag == "img" and values.get("src"):
            out.append(f"![{escape(values.get('alt', ''))}]({_destination(values['src'])})")

    def _inline_end(self, tag: str, out: list[str]) -> None:
        if tag in ("strong", "b"):
            out.append("**")
        elif tag in ("em", "i"):
            out.append("*")
        elif tag == "code" and self.code is not None:
            out.append(_code_span(_SPACE.sub(" ", "".join(self.code))))
            self.code = None
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                out.append(f"]({_destination(href)})")

    def result(self) -> str:
        self._flush()
        out: list[str] = []
        for number, (text, serial) in enumerate(self.blocks):
            if number:  # items of one list stay together (a tight list)
                out.append("\n" if serial and serial == self.blocks[number - 1][1] else "\n\n")
            out.append(text)
        return "".join(out).strip()


def _span(value: str) -> int:
    return max(1, min(int(value), _SPAN_MAX)) if value.isdigit() and len(value) < 4 else 1


def _code_span(code: str) -> str:
    """Inline code: backslashes are literal inside, so fence with more backticks than any run
    in the code instead of escaping."""
    if not code.strip():
        return escape(code)
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{fence}{pad}{code}{pad}{fence}"


def _destination(url: str) -> str:
    """A link destination that cannot end the link early: spaces and angle brackets
    percent-encoded, parentheses and backslashes escaped."""
    url = url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return re.sub(r"([()\\])", r"\\\1", url)
