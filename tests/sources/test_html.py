"""Tables in bot/sources/html.py's HTML-to-Markdown, as Word documents bring them (through
mammoth) and upstream pages may: merged cells keep the columns aligned, a cell's paragraphs,
lists and nested tables stay on its one line, and an absurd span is bounded."""

from __future__ import annotations

from markdown_it import MarkdownIt

from bot.sources.html import to_markdown

TAGS = frozenset({"table", "tr", "td", "th", "p", "ul", "li", "strong"})
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def rows(html: str) -> list[str]:
    return [line for line in to_markdown(html, TAGS).split("\n") if line.startswith("|")]


def test_merged_cells_are_written_empty_so_every_row_has_every_column() -> None:
    html = (
        "<table><tr><td colspan='2'>甲</td><td>乙</td></tr>"
        "<tr><td rowspan='2'>丙</td><td>丁</td><td>戊</td></tr>"
        "<tr><td>己</td><td>庚</td></tr></table>"
    )
    assert rows(html) == [
        "| 甲 |  | 乙 |",
        "| --- | --- | --- |",
        "| 丙 | 丁 | 戊 |",
        "|  | 己 | 庚 |",
    ]
    rendered = _MARKDOWN.render(to_markdown(html, TAGS))
    assert rendered.count("<td>") == 6 and "<th>甲</th>" in rendered


def test_a_cells_blocks_and_nested_table_stay_on_its_line() -> None:
    html = (
        "<table><tr><td><p>第一段</p><p><strong>第二段</strong></p></td>"
        "<td><ul><li>一</li><li>二</li></ul><table><tr><td>内</td><td>表</td></tr></table></td>"
        "</tr><tr><td>x</td><td>y</td></tr></table><p>表后</p>"
    )
    markdown = to_markdown(html, TAGS)
    assert rows(html)[0] == "| 第一段 **第二段** | 一 二 内 表 |"
    assert markdown.endswith("| x | y |\n\n表后")


def test_an_absurd_or_broken_span_is_bounded() -> None:
    [header, _, _] = rows("<table><tr><td colspan='99999'>宽</td></tr><tr><td>a</td></tr></table>")
    assert header.count("|") == 2  # a span of more than three digits is taken as 1
    [header, _, body] = rows(
        "<table><tr><td colspan='500'>宽</td></tr><tr><td colspan='0'>a</td></tr></table>"
    )
    assert header.count("|") == 101 and body.startswith("| a |")
