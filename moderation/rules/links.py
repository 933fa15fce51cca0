"""Broken and wrong links (错链断链): find every link in the summary and body and report the ones
a reader could not follow — broken, looping, pointing at one of our retracted items — before the
item is published.

Extraction is pure and keeps spans on the original text. Fetching is not done here: the rule asks
`context.check_links` (bot/items/linkcheck.py in production) and maps its answers to findings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from moderation.findings import FindingData, LinkProblem, ReviewContext

FIELDS = ("summary", "body")

Link = tuple[str, str, tuple[int, int]]  # (field, url, span of the url in the field's text)


@dataclass(frozen=True)
class LinkIssue(LinkProblem):
    """A LinkProblem that also says which kind it is, so findings get a rule name a reviewer
    (and the audit log) can filter on, and whether a reviewer may override it."""

    kind: str = "problem"
    overridable: bool = False


def broken(url: str, status: int, reason: str = "") -> LinkIssue:
    detail = f"HTTP {status}" + (f" {reason}" if reason else "")
    if status in (401, 403):
        # Many sites refuse automated clients: a person can open it and vouch for it.
        return LinkIssue(
            "block",
            f"链接无法访问：{detail}（{url}）。该网站可能拒绝自动检查，请人工打开确认，"
            "确认无误后由审核人填写理由放行。",
            kind="broken",
            overridable=True,
        )
    return LinkIssue(
        "block", f"链接无法访问：{detail}（{url}），请更正或删除该链接。", kind="broken"
    )


def unreachable(url: str, cause: str) -> LinkIssue:
    return LinkIssue(
        "block", f"链接无法访问：{cause}（{url}），请更正或删除该链接。", kind="broken"
    )


def redirect_loop(url: str) -> LinkIssue:
    return LinkIssue(
        "block", f"链接重定向形成循环，无法打开（{url}），请更正该链接。", kind="redirect_loop"
    )


def too_many_redirects(url: str, hops: int) -> LinkIssue:
    return LinkIssue(
        "block",
        f"链接重定向超过 {hops} 次，无法打开（{url}），请改用最终地址。",
        kind="redirect_loop",
    )


def retracted(url: str, item_id: int) -> LinkIssue:
    return LinkIssue(
        "block",
        f"链接指向已撤稿的条目 #{item_id}（{url}），请删除该链接或改为有效条目。",
        kind="retracted",
    )


def timed_out(url: str, seconds: float) -> LinkIssue:
    return LinkIssue("warn", f"链接检查超时（{seconds:g} 秒），请人工确认：{url}", kind="timeout")


def unavailable(url: str, status: int) -> LinkIssue:
    return LinkIssue(
        "warn",
        f"链接暂时无法访问（HTTP {status}，对方服务器繁忙或限流），请稍后人工确认：{url}",
        kind="unavailable",
    )


# --- extraction ---------------------------------------------------------------------------

# Chinese sentence punctuation that happens to live in the full-width ASCII block: it ends a
# URL written in running text ("详见https://a.gov.cn，或致电…") rather than folding into it.
_SENTENCE_PUNCT = frozenset("，；！？（）")


def _fold(text: str) -> tuple[str, list[int]]:
    """Fold full-width ASCII to ASCII and drop invisible characters, keeping a map from each
    folded character to its original offset. Case is kept: URL paths are case-sensitive."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            continue
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E and ch not in _SENTENCE_PUNCT:
            ch = chr(code - 0xFEE0)
        elif ch == "\u3000":
            ch = " "
        out.append(ch)
        index.append(i)
    index.append(len(text))
    return "".join(out), index


_DEST = r"[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*"
_INLINE = re.compile(
    r"!?\[(?:[^\[\]\\\n]|\\.|\[[^\[\]\n]*\])*\]"
    r"\(\s*(?:<(?P<angle>[^<>\n]*)>|(?P<dest>" + _DEST + r"))"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_AUTOLINK = re.compile(r"<(?P<url>[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")
_ATTR = re.compile(
    r"<[A-Za-z][^<>]*?\b(?:href|src)\s*=\s*"
    r"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s\"'<>`=]+))[^<>]*>",
    re.IGNORECASE,
)
_BARE = re.compile(r"https?://[!-~]+", re.IGNORECASE)
_BARE_STOP = re.compile(r"[<>\"'`]")
_TRAILING = ".,:;!?*_~'\""


def _trim_bare(url: str) -> str:
    """Drop what running text puts after a URL: sentence punctuation, Markdown emphasis, and a
    closing bracket that the URL did not open (GFM's rule)."""
    stop = _BARE_STOP.search(url)
    if stop:
        url = url[: stop.start()]
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        elif last == "]" and url.count("]") > url.count("["):
            url = url[:-1]
        else:
            break
    return url


def _field_links(text: str) -> list[tuple[str, tuple[int, int], bool]]:
    """(url, original span, disguised) for every link in one field, in text order."""
    folded, index = _fold(text)
    taken: list[tuple[int, int]] = []  # folded spans already consumed by a Markdown/HTML link
    found: list[tuple[int, int]] = []  # folded spans of URLs

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for m in _INLINE.finditer(folded):
        group = "angle" if m.group("angle") is not None else "dest"
        if m.group(group):
            found.append(m.span(group))
        taken.append(m.span())
    for pattern, groups in ((_AUTOLINK, ("url",)), (_ATTR, ("dq", "sq", "bare"))):
        for m in pattern.finditer(folded):
            if not free(*m.span()):
                continue
            for group in groups:
                if m.group(group):
                    start, end = m.span(group)
                    # Surrounding spaces inside quotes are ignored by browsers.
                    value = m.group(group)
                    start += len(value) - len(value.lstrip())
                    end -= len(value) - len(value.rstrip())
                    if end > start:
                        found.append((start, end))
            taken.append(m.span())
    for m in _BARE.finditer(folded):
        url = _trim_bare(m.group())
        start, end = m.start(), m.start() + len(url)
        if free(start, end) and len(url) > len("https://"):
            found.append((start, end))

    links = []
    for start, end in sorted(found):
        span = (index[start], index[end - 1] + 1)
        url = folded[start:end]
        links.append((url, span, text[span[0] : span[1]] != url))
    return links


def extract_links(snapshot: dict[str, Any]) -> list[Link]:
    """Every link in the summary and the Markdown body: inline links and images, autolinks,
    bare http(s) URLs and HTML href/src, with the span of the URL in the field's original text.
    A URL written with full-width or invisible characters is returned folded to what it says."""
    return [
        (name, url, span)
        for name in FIELDS
        for url, span, _ in _field_links(str(snapshot.get(name) or ""))
    ]


def fetchable(url: str) -> bool:
    """Only absolute http(s) links are checked: relative links, anchors, mailto: and tel: are
    not fetched."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


async def check(snapshot: dict[str, Any], context: ReviewContext) -> list[FindingData]:
    if context.check_links is None:
        return []
    findings: list[FindingData] = []
    occurrences: list[tuple[str, str, tuple[int, int]]] = []
    for name in FIELDS:
        for url, span, disguised in _field_links(str(snapshot.get(name) or "")):
            if disguised:
                findings.append(
                    FindingData(
                        rule="links.disguised",
                        severity="warn",
                        field=name,
                        span=span,
                        message=f"链接中含全角或不可见字符，读者无法直接打开，请改为半角：{url}",
                        suggestion=url,
                    )
                )
            if fetchable(url):
                occurrences.append((name, url, span))
    if not occurrences:
        return findings
    results = await context.check_links(list(dict.fromkeys(url for _, url, _ in occurrences)))
    for name, url, span in occurrences:
        problem = results.get(url)
        if problem is not None:
            findings.append(
                FindingData(
                    rule=f"links.{getattr(problem, 'kind', 'problem')}",
                    severity=problem.severity,
                    field=name,
                    span=span,
                    message=problem.message,
                    overridable=getattr(problem, "overridable", False),
                )
            )
        # A link that must be fixed anyway needs no second note about its scheme.
        if urlsplit(url).scheme.lower() == "http" and not (problem and problem.severity == "block"):
            secure = "https" + url[len("http") :]
            findings.append(
                FindingData(
                    rule="links.insecure",
                    severity="warn",
                    field=name,
                    span=span,
                    message=f"链接使用不加密的 http://，建议改为 https://：{url}",
                    suggestion=secure,
                )
            )
    return findings
