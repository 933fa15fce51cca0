"""The settings moderation needs, as validated sections of config.toml: comment triage
([inbox.triage]) and reply deadlines ([inbox.deadlines]). bot/config.py builds the whole
configuration from these; moderation imports nothing from bot/."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Section(BaseModel):
    """A section of config.toml: unknown keys are errors, values never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TriageConfig(Section):
    """Comment triage (moderation/triage.py): spam, abuse, categories, simple questions, routing."""

    # Spam is decided on evidence (moderation/spam.py). Links to these hosts (or their
    # subdomains) never count; more than max_links links to hosts of a counted kind are the
    # weak signal "link".
    link_allowed_hosts: list[str] = Field(default_factory=lambda: ["gov.cn"])
    max_links: Annotated[int, Field(ge=0, le=100)] = 0
    # A comment of at least repeat_min_chars characters whose distinct characters are fewer
    # than this share of its length, or the same text from the same author again within
    # repeat_window_seconds, is the weak signal "repeat"; one character over and over, or a
    # third copy, is spam on its own.
    repeat_min_chars: Annotated[int, Field(ge=2, le=10000)] = 12
    repeat_max_distinct_share: Annotated[float, Field(ge=0, le=1)] = 0.3
    repeat_window_seconds: Annotated[float, Field(ge=0)] = 86400
    # More than flood_max_messages comments by one author within flood_window_seconds: the
    # extra ones are spam ("flood").
    flood_max_messages: Annotated[int, Field(ge=1, le=10000)] = 10
    flood_window_seconds: Annotated[float, Field(gt=0)] = 60
    # Words added to moderation/dictionaries/spam.txt (advertising, the weak signal "ad") and
    # abuse.txt (辱骂, "abuse").
    spam_words: list[str] = Field(default_factory=list)
    abuse_words: list[str] = Field(default_factory=list)
    # Category keywords added to (or moved between categories of) categories.txt; with
    # shipped_category_keywords = false only these are used.
    category_keywords: dict[
        Literal["咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他"], list[str]
    ] = Field(default_factory=dict)
    shipped_category_keywords: bool = True
    # Routing keywords, office → words, added to (or overriding) offices.txt; the office of a
    # comment with no linked item and no keyword hit is default_office.
    office_keywords: dict[str, list[str]] = Field(default_factory=dict)
    default_office: Annotated[str, Field(min_length=1, max_length=128)] = "办公室"
    # Knowledge-base answers: suggested to staff from suggest_min_confidence; a 咨询 comment
    # with a hit from simple_min_confidence is a simple question (1 working day).
    suggest_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.35
    simple_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.6
    # The trained category model (moderation/classifier.py): a prediction less probable than
    # category_min_confidence shows 待确认 (flag "category_unsure") and gets the shortest reply
    # clock among the categories at least category_likely_probability probable (信访类's lack
    # of one never counts on a guess).
    category_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.4
    category_likely_probability: Annotated[float, Field(ge=0, le=1)] = 0.2


class DeadlineConfig(Section):
    """Reply deadlines in Chinese working days (moderation/deadlines.py)."""

    # Time of day (Asia/Shanghai, HH:MM) at which a working day ends: the due moment
    end_of_day: str = "17:30"
    # Working days to answer a simple question, and any other comment
    simple_workdays: Annotated[int, Field(ge=1, le=60)] = 1
    default_workdays: Annotated[int, Field(ge=1, le=60)] = 5
    # Overrides for non-simple comments: by category first, then by channel
    category_workdays: dict[
        Literal["咨询", "建议", "投诉", "求助", "表扬", "其他"], Annotated[int, Field(ge=1, le=60)]
    ] = Field(default_factory=dict)
    channel_workdays: dict[str, Annotated[int, Field(ge=1, le=60)]] = Field(default_factory=dict)

    # Days off and make-up working days (调休) beyond the official calendar (or, for a year it
    # does not know, beyond the computed statutory holidays), and years whose calendar these
    # lists declare complete (no warning for them)
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    declared_years: list[Annotated[int, Field(ge=1900, le=9998)]] = Field(default_factory=list)

    @field_validator("end_of_day")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, sep, minutes = value.partition(":")
        if (
            not sep
            or len(minutes) != 2
            or not (hours.isdigit() and minutes.isdigit())
            or not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59)
        ):
            raise ValueError("expected a time of day HH:MM such as 17:30")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("workdays")
    @classmethod
    def _not_also_holiday(cls, value: list[Any], info: Any) -> list[Any]:
        both = sorted(set(value) & set(info.data.get("holidays", ())))
        if both:
            raise ValueError(f"also listed in holidays: {', '.join(d.isoformat() for d in both)}")
        return value


class InboxSettings(Protocol):
    """What triage reads of the inbox's settings ([inbox] in config.toml)."""

    @property
    def triage(self) -> TriageConfig: ...

    @property
    def deadlines(self) -> DeadlineConfig: ...
