"""The WeChat simulator's 数据统计 (datacube): figures tests seed per day — per 群发 article
(reads, shares, favourites) and for the account (new and cancelled followers, the total) — and
getarticlesummary, getarticletotal, getusersummary and getusercumulate answering them with
WeChat's date rules: dates as "YYYY-MM-DD", at most the documented span per call, nothing
after yesterday."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from channels.sandbox.wechat_state import error

# docs/channels/wechat.md [S50] [S51] (图文分析 / 用户分析数据接口, "最大时间跨度"): how many days
# one call may cover.
MAX_SPAN = {
    "datacube/getarticlesummary": 1,
    "datacube/getarticletotal": 1,
    "datacube/getusersummary": 7,
    "datacube/getusercumulate": 7,
}
# [S50]: "仅存储了2014年12月1日之后的数据": earlier days have nothing.
FIRST_DAY = date(2014, 12, 1)
FIGURES = (
    "int_page_read_user",
    "int_page_read_count",
    "ori_page_read_user",
    "ori_page_read_count",
    "share_user",
    "share_count",
    "add_to_fav_user",
    "add_to_fav_count",
)


@dataclass
class Datacube:
    """Seeded figures: articles[(ref_date, msgid)] and users[ref_date] (ISO dates)."""

    articles: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sent_on: dict[str, str] = field(default_factory=dict)  # msgid: the day it was sent
    users: dict[str, dict[str, int]] = field(default_factory=dict)

    def seed_article(
        self,
        day: date,
        msg_data_id: int,
        index: int,
        title: str,
        sent: date | None = None,
        **figures: int,
    ) -> str:
        """Figures of article `index` (0-based) of the 群发 msg_data_id on `day`; its msgid.
        [S50] getarticlesummary: msgid is "msg_data_id_index" with the index counted from 1."""
        msgid = f"{msg_data_id}_{index + 1}"
        row = {"title": title, **{name: int(figures.get(name, 0)) for name in FIGURES}}
        self.articles[(day.isoformat(), msgid)] = row
        self.sent_on.setdefault(msgid, (sent or day).isoformat())
        return msgid

    def seed_users(self, day: date, new: int, cancel: int, cumulate: int) -> None:
        self.users[day.isoformat()] = {"new_user": new, "cancel_user": cancel, "cumulate": cumulate}

    def answer(self, endpoint: str, body: dict[str, Any], today: date) -> dict[str, Any] | None:
        """The answer of datacube/<...>; None for an endpoint the simulator does not serve."""
        if endpoint not in MAX_SPAN:
            return None
        days = _days(body, today, MAX_SPAN[endpoint])
        if isinstance(days, dict):
            return days
        wanted = {d.isoformat() for d in days if d >= FIRST_DAY}
        if endpoint == "datacube/getarticlesummary":
            return {"list": self._summary(wanted)}
        if endpoint == "datacube/getarticletotal":
            return {"list": self._total(wanted, today)}
        if endpoint == "datacube/getusersummary":
            rows = [
                {
                    "ref_date": d,
                    "user_source": 0,
                    "new_user": u["new_user"],
                    "cancel_user": u["cancel_user"],
                }
                for d, u in sorted(self.users.items())
                if d in wanted
            ]
            return {"list": rows}
        rows = [
            {"ref_date": d, "cumulate_user": u["cumulate"]}
            for d, u in sorted(self.users.items())
            if d in wanted
        ]
        return {"list": rows}

    def _summary(self, wanted: set[str]) -> list[dict[str, Any]]:
        out = []
        for (day, msgid), row in sorted(self.articles.items()):
            # [S50] note 3: only articles whose reads, shares and favourites add up to 3 or more
            # are counted ("过小的阅读量的图文消息无法统计").
            small = sum(
                row[k]
                for k in FIGURES
                if k not in ("int_page_read_count", "ori_page_read_count", "add_to_fav_user")
            )
            if day in wanted and small >= 3:
                out.append({"ref_date": day, "msgid": msgid, **row})
        return out

    def _total(self, wanted: set[str], today: date) -> list[dict[str, Any]]:
        # [S50] getarticletotal: the articles sent on ref_date, with their figures per
        # stat_date up to yesterday (at most 7 days after sending).
        out = []
        for msgid, sent in sorted(self.sent_on.items()):
            if sent not in wanted:
                continue
            details = [
                {
                    "stat_date": day,
                    "target_user": 0,
                    **{k: v for k, v in row.items() if k != "title"},
                }
                for (day, mid), row in sorted(self.articles.items())
                if mid == msgid and day < today.isoformat()
            ][:7]
            title = next(r["title"] for (_, mid), r in self.articles.items() if mid == msgid)
            out.append({"ref_date": sent, "msgid": msgid, "title": title, "details": details})
        return out


def _days(body: dict[str, Any], today: date, span: int) -> list[date] | dict[str, Any]:
    """The days from begin_date to end_date, or WeChat's error: 61500 a date not in the
    format, 61501 a range reversed, longer than `span` days or ending after yesterday
    ([S50] "end_date 最大值为昨日"; the codes are the global table's [S40])."""
    try:
        begin = date.fromisoformat(_text(body.get("begin_date")))
        end = date.fromisoformat(_text(body.get("end_date")))
    except ValueError:
        return error(61500, "date format error")
    if end < begin or (end - begin).days + 1 > span or end >= today:
        return error(61501, "date range error")
    return [begin + timedelta(days=n) for n in range((end - begin).days + 1)]


def _text(value: Any) -> str:
    # "YYYY-MM-DD" exactly: fromisoformat alone would take "20261207" too.
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError(value)
    return value
