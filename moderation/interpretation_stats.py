"""Interpretation forms (解读形式) and the 多元化解读率: the share of interpretations published in
at least one form beyond plain text. The plan sets the target at 60%."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["DIVERSIFIED_TARGET", "FORMS", "TEXT_FORM", "diversified_rate", "normalize_form"]

TEXT_FORM = "文字"
FORMS: tuple[str, ...] = (
    TEXT_FORM,
    "图解",
    "视频",
    "新闻发布会",
    "政策通气会",
    "专家访谈",
    "动漫",
    "场景演示",
    "短视频",
)
DIVERSIFIED_TARGET = 0.6


def normalize_form(form: object) -> str:
    """Width-folded, with whitespace and invisible characters removed: "图 解" reads as "图解"."""
    text = unicodedata.normalize("NFKC", form if isinstance(form, str) else str(form))
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] != "C")


def diversified_rate(forms_per_interpretation: Iterable[Iterable[str]]) -> float | None:
    """Share of interpretations with at least one known form other than 文字; None when there
    are no interpretations. Unknown forms do not count: pre-review blocks them, so one here is
    a data error, not a diversified interpretation."""
    total = 0
    diversified = 0
    for forms in forms_per_interpretation:
        total += 1
        if isinstance(forms, str):
            forms = [forms]
        normalized = {normalize_form(f) for f in forms}
        if any(f in FORMS and f != TEXT_FORM for f in normalized):
            diversified += 1
    return diversified / total if total else None
