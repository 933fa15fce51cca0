"""Property tests of what reads outside input for 集中诉求: any cells in a 好差评 export give
either a stored rating or an error naming its line and a known field, never an exception;
the grade of a cell is one of the five or none."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import parse_config
from bot.matters.ratings import GRADES, grade_of, read_ratings

CONFIG = parse_config({})
NOW = datetime(2025, 6, 30, 1, 0, tzinfo=UTC)
FIELDS = ("事项名称", "评价等级", "评价内容", "时间", "渠道", "评价编号")
cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            *GRADES,
            "3",
            "6",
            "",
            "2025-06-01 10:00",
            "2025/6/1 9:30",
            "x" * 300,
            "0001-01-01 00:00",
            "9999-12-31 23:59",
            "５",
        ]
    ),
)


@given(st.text(max_size=12))
def test_a_grade_is_one_of_the_five_or_none(text: str) -> None:
    grade = grade_of(text)
    assert grade is None or 1 <= grade <= 5
    if text.strip() in GRADES:
        assert grade == GRADES[text.strip()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cell, min_size=6, max_size=6), min_size=1, max_size=6))
def test_any_cells_give_ratings_or_errors_naming_line_and_field(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    writer.writerows(rows)
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        ratings, errors, count, repeated = read_ratings(path, CONFIG, NOW)
    assert len(ratings) + len(errors) + repeated == count
    for e in errors:
        assert e.field in FIELDS and e.line >= 2 and str(e).startswith(f"第 {e.line} 行")
    for r in ratings:
        assert 1 <= r.grade <= 5 and r.rated_at.tzinfo is not None and r.service
