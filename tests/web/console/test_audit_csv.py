"""The audit log's CSV cells are safe to open in a spreadsheet: a cell a spreadsheet would
evaluate (=, +, -, @, tab, carriage return, after spaces or full-width) gets a leading single
quote and nothing else changes; the file starts with a BOM and its rows read back whole."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from bot.web.console.audit_csv import BOM, FORMULA_STARTS, HEADER, encode, head, spreadsheet_safe

TRIGGERS = st.sampled_from(FORMULA_STARTS)


def test_formula_cells_get_a_quote_and_text_does_not() -> None:
    assert spreadsheet_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert spreadsheet_safe("@SUM(1)") == "'@SUM(1)"
    assert spreadsheet_safe("+1") == "'+1" and spreadsheet_safe("-1") == "'-1"
    assert spreadsheet_safe("\t=1") == "'\t=1" and spreadsheet_safe("\r=1") == "'\r=1"
    assert spreadsheet_safe("  =1") == "'  =1"
    assert spreadsheet_safe("＝1+1") == "'＝1+1"
    assert (
        spreadsheet_safe("张三（alice） 批准发布了《=通知》") == "张三（alice） 批准发布了《=通知》"
    )
    assert spreadsheet_safe("") == ""


@given(st.text())
def test_an_escaped_cell_never_starts_like_a_formula_and_keeps_its_text(value: str) -> None:
    safe = spreadsheet_safe(value)
    assert not safe.lstrip(" ").startswith(FORMULA_STARTS)
    assert safe in (value, "'" + value)  # nothing lost, nothing else added


@given(prefix=st.text(alphabet=" ", max_size=3), trigger=TRIGGERS, rest=st.text())
def test_every_formula_start_is_escaped(prefix: str, trigger: str, rest: str) -> None:
    assert spreadsheet_safe(prefix + trigger + rest) == "'" + prefix + trigger + rest


@given(st.lists(st.lists(st.text(), min_size=5, max_size=5), max_size=5))
def test_rows_read_back_whole_after_the_header(rows: list[list[str]]) -> None:
    data = (head() + encode(rows)).decode("utf-8")
    assert data.startswith(BOM)
    read = list(csv.reader(io.StringIO(data.removeprefix(BOM), newline="")))
    assert read[0] == list(HEADER)
    assert read[1:] == rows
