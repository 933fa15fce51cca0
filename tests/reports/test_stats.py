"""多元化解读率 over a period, from published interpretations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.config import Config
from bot.models import Item
from bot.reports import stats
from tests.conftest import Staff


async def interpretation(
    staff: Staff, forms: list[str], published: datetime | None, status: str = "published"
) -> None:
    await Item.create(
        kind="interpretation",
        title="解读",
        column="interpretation",
        body="正文",
        interpretation_forms=forms,
        author_id=staff.editor.user_id,
        status=status,
        published_at=published,
        published_version=1 if published else None,
    )


async def test_rate_counts_interpretations_with_a_non_text_form_in_the_period(
    config: Config, staff: Staff
) -> None:
    june = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
    await interpretation(staff, ["文字", "图解"], june)
    await interpretation(staff, ["视频"], june)
    await interpretation(staff, ["文字"], june)
    await interpretation(staff, ["新闻发布会"], datetime(2026, 3, 1, tzinfo=UTC))  # outside
    await interpretation(staff, ["图解"], june, status="retracted")  # retracted: not counted
    await interpretation(staff, ["图解"], None, status="draft")  # never published

    r = await stats.interpretation_rate(date(2026, 6, 1), date(2026, 6, 30), "Asia/Shanghai")
    assert (r.interpretations, r.diversified) == (3, 2)
    assert r.rate is not None and abs(r.rate - 2 / 3) < 1e-9
    assert r.meets_target is True


async def test_period_bounds_are_local_dates(config: Config, staff: Staff) -> None:
    # 2026-06-30 23:30 in Shanghai is 15:30 UTC the same day; 2026-07-01 00:30 is June 30 UTC.
    await interpretation(staff, ["文字"], datetime(2026, 6, 30, 16, 30, tzinfo=UTC))
    r = await stats.interpretation_rate(date(2026, 6, 1), date(2026, 6, 30), "Asia/Shanghai")
    assert r.interpretations == 0 and r.rate is None and r.meets_target is None
