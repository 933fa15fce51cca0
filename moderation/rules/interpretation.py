"""政策解读: a proactive policy needs an interpretation (else 退文); an interpretation must not be
formal (形式化解读: copying the policy or listing its headings); its forms must be known ones."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.interpretation_stats import FORMS, normalize_form
from moderation.normalize import normalize

__all__ = ["check", "copied_share", "heading_only"]

MISSING_MESSAGE = "缺少政策解读稿件：主动公开的政策性文件须同步报送政策解读稿件，请补充后再提交。"
# Interpretations that no longer count for their policy.
DEAD_STATUSES = frozenset({"retracted"})
FORM_ALIASES = {"图示图解": "图解", "图示": "图解", "卡通动漫": "动漫", "发布会": "新闻发布会"}

# Only the first part of a very long text is compared: enough for any real interpretation, and
# it keeps a 10 MB paste from costing memory in proportion to its size.
MAX_CHARS = 200_000
# A copied passage is a run of at least this many normalized characters (punctuation and spaces
# dropped) that also occurs in the policy: about a clause. Shorter shared runs are the policy's
# own terms (个人存款账户, 中国人民银行, 银行业金融机构), which any paraphrase reuses.
MIN_PASSAGE = 10
_OWN, _COPIED, _TITLE = 0, 1, 2  # what each character of the interpretation is

_NUMBERING = re.compile(
    r"^(#{1,6}\s*|第[一二三四五六七八九十百零〇两0-9]+[条章节部分款]|"
    r"[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十0-9]+[)）]|[0-9]+[.、)）])"
)
HEADING_MAX = 30
HEADING_SHARE = 0.7
HEADING_MIN_LINES = 3
PROSE_LITTLE = 200  # characters outside heading lines


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    kind = snapshot.get("kind")
    if kind == "policy":
        yield from _check_policy(snapshot, context)
    elif kind == "interpretation":
        yield from _check_forms(snapshot.get("interpretation_forms"))
        body = _text(snapshot.get("body"))
        if context.related is not None:
            related = context.related
            yield from _check_copy(body, _text(related.body), _text(related.title), context)
        if heading_only(body):
            yield FindingData(
                rule="interpretation.headings_only",
                severity="warn",
                field="body",
                message="形式化解读：解读稿基本只罗列文件小标题，缺少对政策背景、要点和关注问题的"
                "说明，请补充实质性解读内容。",
            )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _check_policy(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    if snapshot.get("disclosure") != "proactive":
        return
    live = [i for i in context.interpretations if i.status not in DEAD_STATUSES]
    if not live:
        yield FindingData(
            rule="interpretation.missing",
            severity="block",
            field="interpretations",
            message=MISSING_MESSAGE,
        )


def _check_forms(raw: Any) -> Iterator[FindingData]:
    if raw is None:
        forms: list[Any] = []
    elif isinstance(raw, str):
        forms = [raw]
    elif isinstance(raw, list | tuple | set | frozenset):
        forms = list(raw)
    else:
        forms = [raw]
    named = [(f, normalize_form(f)) for f in forms]
    named = [(f, n) for f, n in named if n]
    if not named:
        yield FindingData(
            rule="interpretation.forms_missing",
            severity="warn",
            field="interpretation_forms",
            message=f"未填写解读形式，可选：{'、'.join(FORMS)}。",
        )
        return
    for original, form in named:
        if form in FORMS:
            continue
        alias = FORM_ALIASES.get(form, "")
        hint = f"，是否应为「{alias}」" if alias else ""
        shown = (original if isinstance(original, str) else str(original)).strip()[:40]
        yield FindingData(
            rule="interpretation.form_unknown",
            severity="block",
            field="interpretation_forms",
            message=f"解读形式「{shown}」不在可选范围内{hint}；可选：{'、'.join(FORMS)}。",
            suggestion=alias,
        )


def _normalized(text: str) -> str:
    """Width folded, invisible characters, spaces and punctuation dropped, so an inserted space
    or a full-width comma does not make a copy look original."""
    return normalize(unicodedata.normalize("NFKC", text[:MAX_CHARS])).text


def copied_share(interpretation: str, policy: str, title: str = "") -> float:
    """Share of the interpretation, by characters, that lies in passages copied from the policy:
    runs of at least MIN_PASSAGE consecutive characters (after normalization) that also occur
    in the policy, overlapping runs merged. Quoting the policy's title counts neither way: its
    occurrences are left out of the interpretation's length. An interpretation too short to
    hold one passage gives 0.0. Linear in the length of both texts."""
    text = _normalized(interpretation)
    source = _normalized(policy)
    shingles = {source[i : i + MIN_PASSAGE] for i in range(len(source) - MIN_PASSAGE + 1)}
    marks = bytearray(len(text))  # _OWN everywhere to begin with
    copied = bytes([_COPIED]) * MIN_PASSAGE
    for i in range(len(text) - MIN_PASSAGE + 1):
        if text[i : i + MIN_PASSAGE] in shingles:
            marks[i : i + MIN_PASSAGE] = copied
    quoted = _normalized(title)
    if len(quoted) >= MIN_PASSAGE:
        at = text.find(quoted)
        while at >= 0:
            marks[at : at + len(quoted)] = bytes([_TITLE]) * len(quoted)
            at = text.find(quoted, at + len(quoted))
    own_length = len(text) - marks.count(_TITLE)
    if own_length < MIN_PASSAGE:
        return 0.0
    return marks.count(_COPIED) / own_length


def _check_copy(
    body: str, policy: str, title: str, context: ReviewContext
) -> Iterator[FindingData]:
    share = copied_share(body, policy, title)
    if share > context.settings.formal_copy_share:
        yield FindingData(
            rule="interpretation.formal_copy",
            severity="warn",
            field="body",
            message=f"形式化解读：解读稿 {share:.0%} 的内容成段摘抄自原文（超过 "
            f"{context.settings.formal_copy_share:.0%}），解读稿应说明政策背景、要点和"
            "公众关注的问题，而非简单摘抄原文。",
        )


def heading_only(body: str) -> bool:
    """Whether the text is mostly short heading-like lines (一、… （一）… 第X条) with little
    prose — the 罗列文件小标题 kind of formal interpretation."""
    lines = []
    for raw in unicodedata.normalize("NFKC", body[:MAX_CHARS]).splitlines():
        line = normalize(raw, drop_separators=False).text.strip()
        if line:
            lines.append(line)
    if len(lines) < HEADING_MIN_LINES:
        return False
    headings = 0
    prose = 0
    for line in lines:
        if len(line) <= HEADING_MAX and (
            _NUMBERING.match(line) or not line.endswith(("。", "!", "?", ";", "."))
        ):
            headings += 1
        else:
            prose += len(line)
    return headings >= HEADING_SHARE * len(lines) and prose < PROSE_LITTLE
