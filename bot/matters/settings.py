"""The settings of 集中诉求 and 专项回应, as validated sections of config.toml: the listed
办事事项 (`[[matters]]`) and `[hot_matters]` (matching, grouping, the task thresholds and the
weekly job). bot/config.py puts them into the one configuration; nothing here reads a file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from moderation.settings import Section

Word = Annotated[str, Field(min_length=1, max_length=50)]
Category = Literal["咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他"]
IGNORED: tuple[Category, ...] = ("表扬",)  # praise is no complaint


class MatterConfig(Section):
    """One 办事事项 the office answers for: what it is called, the office responsible, and the
    words that say a message is about it."""

    # A stable short name for addresses and the command line (letters, digits and -); the
    # pages show `name`
    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    office: Annotated[str, Field(min_length=1, max_length=128)]
    # A message containing one of these (width and case folded) is about this matter
    keywords: list[Word] = Field(default_factory=list)
    # Other names the 好差评 and 12345 systems give it (a rating whose 事项名称 is one of
    # them, or the name itself, is about this matter whatever its text says)
    aliases: list[Word] = Field(default_factory=list)
    # A sentence or two on what the matter covers: compared with messages no keyword found
    description: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("keywords", "aliases")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        cleaned = [w.strip() for w in value]
        if any(not w for w in cleaned):
            raise ValueError("a word is blank")
        return list(dict.fromkeys(cleaned))


def _distinct(value: list[MatterConfig]) -> list[MatterConfig]:
    for attr, what in (("key", "key"), ("name", "name")):
        seen: set[str] = set()
        for matter in value:
            if getattr(matter, attr) in seen:
                raise ValueError(f"the {what} {getattr(matter, attr)!r} is used by two matters")
            seen.add(getattr(matter, attr))
    return value


Matters = Annotated[list[MatterConfig], AfterValidator(_distinct)]


def _clock_time(value: str) -> str:
    hour, _, minute = value.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError("expected HH:MM (Asia/Shanghai), e.g. 09:00")
    return f"{int(hour):02d}:{int(minute):02d}"


class TaskRules(Section):
    """When a matter gets a 专项回应 task (the weekly job, once for the deployment)."""

    enabled: bool = True
    # Weekday (1 Monday … 7 Sunday) and time (HH:MM, app.timezone) from which the week's run
    # is due; every worker ticks at [scheduler] daily_tick_seconds and the first to find it
    # due runs it
    weekday: Annotated[int, Field(ge=1, le=7)] = 1
    time: str = "09:00"
    # A matter with at least `complaints` messages (comments of any channel and 12345 orders,
    # spam and the ignored categories left out) received in the last window_days days
    complaints: Annotated[int, Field(ge=1, le=100_000)] = 10
    window_days: Annotated[int, Field(ge=1, le=366)] = 30
    ignore_categories: list[Category] = Field(default_factory=lambda: list(IGNORED))
    # …or among the `lowest_rated` matters by average 好差评 rating (5 非常满意 … 1 非常不满意)
    # over the last rating_days days, counting only matters with at least min_ratings ratings
    # and an average below rating_below (0 lowest_rated: ratings open no task)
    lowest_rated: Annotated[int, Field(ge=0, le=100)] = 3
    rating_days: Annotated[int, Field(ge=1, le=366)] = 30
    min_ratings: Annotated[int, Field(ge=1, le=100_000)] = 5
    rating_below: Annotated[float, Field(gt=1, le=5)] = 4.0
    # The responsible office answers within this many working days (法定节假日 and 调休
    # counted, [inbox.deadlines] holidays and workdays too)
    due_workdays: Annotated[int, Field(ge=1, le=250)] = 15

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _clock_time(value)


class HotMattersConfig(Section):
    """Matching messages to the listed matters, grouping the rest, and the tasks."""

    # A message no keyword places goes to the listed matter its words are most like (TF-IDF
    # cosine of jieba tokens, 0 … 1) when that likeness is at least this
    similarity: Annotated[float, Field(gt=0, le=1)] = 0.3
    # Messages of the last group_days days that fit no listed matter are grouped when they are
    # at least group_similarity alike; a group of group_min or more is shown as a suggested
    # new matter (the newest group_limit messages are looked at)
    group_similarity: Annotated[float, Field(gt=0, le=1)] = 0.35
    group_min: Annotated[int, Field(ge=2, le=1000)] = 3
    group_days: Annotated[int, Field(ge=1, le=366)] = 30
    group_limit: Annotated[int, Field(ge=10, le=5000)] = 1000
    # How often new comments are given their matter (once for the deployment; minutes)
    assign_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 60
    tasks: TaskRules = TaskRules()
