"""WeChat's own statistics as the dashboard and exports read them (stored daily by
bot/wechat/stats.py from datacube): followers per day and in total, the most read articles, and
reads by kind of item and by 解读 form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from bot.models import KIND_LABELS, Item, Kind, WechatArticleStat, WechatFollowerStat
from bot.reports.followers import FollowerDay


@dataclass(frozen=True)
class TopArticle:
    title: str
    item_id: int | None
    read_user: int
    share_user: int
    fav_user: int


@dataclass
class WechatFigures:
    followers: list[FollowerDay] = field(default_factory=list)  # days WeChat reported
    total: int | None = None  # 关注总人数 on the last day reported
    top: list[TopArticle] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)  # 类型 label: reads
    by_form: dict[str, int] = field(default_factory=dict)  # 解读形式: reads

    @property
    def reported(self) -> bool:
        return bool(self.followers) or bool(self.top)


async def wechat_figures(first: date, last: date, top: int = 10) -> WechatFigures:
    """WeChat's figures of the days first to last (both included)."""
    days = await WechatFollowerStat.filter(day__gte=first, day__lte=last).order_by("day")
    out = WechatFigures(
        followers=[FollowerDay(d.day, d.new_user, d.cancel_user) for d in days],
        total=days[-1].cumulate_user if days else None,
    )
    rows = await WechatArticleStat.filter(day__gte=first, day__lte=last)
    reads: Counter[str] = Counter()
    shares: Counter[str] = Counter()
    favs: Counter[str] = Counter()
    titles: dict[str, tuple[str, int | None]] = {}
    for r in rows:
        reads[r.msgid] += r.read_user
        shares[r.msgid] += r.share_user
        favs[r.msgid] += r.fav_user
        titles[r.msgid] = (r.title, r.item_id)
    out.top = [
        TopArticle(titles[m][0], titles[m][1], n, shares[m], favs[m])
        for m, n in reads.most_common(top)
    ]
    item_reads: Counter[int] = Counter()
    for r in rows:
        if r.item_id is not None:
            item_reads[r.item_id] += r.read_user
    items = await Item.filter(id__in=list(item_reads)).only("id", "kind", "interpretation_forms")
    for item in items:
        label = KIND_LABELS.get(Kind(item.kind), item.kind)
        out.by_kind[label] = out.by_kind.get(label, 0) + item_reads[item.id]
        for form in item.interpretation_forms or []:
            out.by_form[form] = out.by_form.get(form, 0) + item_reads[item.id]
    return out


CSV_HEADER = [
    "日期",
    "微信文章编号",
    "稿件",
    "标题",
    "阅读人数",
    "阅读次数",
    "分享人数",
    "分享次数",
]
CSV_HEADER += ["收藏人数", "收藏次数"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: str) -> str:
    # A title a spreadsheet would run as a formula is kept as text.
    return f"'{value}" if value.startswith(FORMULA_START) else value


async def csv_rows(first: date, last: date) -> list[list[str | int]]:
    """Every stored article figure of the days first to last, for a CSV export."""
    rows = await WechatArticleStat.filter(day__gte=first, day__lte=last).order_by("day", "msgid")
    return [
        [
            r.day.isoformat(),
            r.msgid,
            r.item_id or "",
            _safe(r.title),
            r.read_user,
            r.read_count,
            r.share_user,
            r.share_count,
            r.fav_user,
            r.fav_count,
        ]
        for r in rows
    ]
