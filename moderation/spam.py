"""Spam as evidence: the signals triage weighs before it hides a comment as spam, and the rule
that decides.

Citizens link the news item they react to, the photo of their evidence, the P2P platform that
cheated them; a fraud victim quotes the scam's advertisement and the scammer's WeChat id. So no
single weak signal hides a comment. The weak signals, each counted once whatever its strength:

- ``link``: links to hosts of a counted kind, more than ``max_links`` of them. Hosts of
  government (``link_allowed_hosts``), news, social, video, picture and cloud-drive sites
  (dictionaries/link_hosts.txt) and links to a picture never count; unknown hosts, shops and
  short links (which hide where they lead) do.
- ``ad``: an advertising phrase (dictionaries/spam.txt, ``spam_words``).
- ``contact``: a contact-me pattern: an invitation to add a WeChat, QQ or Telegram account
  ("加微信", "加我vx", "私信我", "扫码进群") or such an account named with its id ("vx: abc123",
  "QQ 12345678", "微信号 wxid_…"). A telephone number is not one: citizens give theirs to be
  called back.
- ``repeat``: a text made of few distinct characters, or the same text again from the same
  author within the window.

Hard rules, spam on their own: ``flood`` (more comments by one author in the window than a
person writes) and ``repeat`` when it is blatant (a single character over and over, or a third
copy of the same text within the window).

The decision: spam on a hard rule, or on WEAK_NEEDED different weak signals; a comment that
reports a wrong done to its writer (dictionaries/reporting.txt: 被骗, 投诉, 举报, 退钱…) needs
REPORTING_NEEDED, i.e. all of them, since quoting the scam is what such a message does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from moderation.rules.wording import DictionaryError
from moderation.wordlists import rows

__all__ = [
    "FLAG_ORDER",
    "REPORTING_NEEDED",
    "WEAK_NEEDED",
    "Evidence",
    "LinkJudge",
    "Links",
    "contact_me",
]

WEAK_NEEDED = 2
REPORTING_NEEDED = 4
FLAG_ORDER = ("link", "ad", "contact", "repeat", "flood")

# link_hosts.txt: kinds whose links are ordinary in a citizen's message, and kinds that count
NEUTRAL_KINDS = frozenset({"政务", "新闻", "社交", "视频", "图片", "网盘"})
COUNTED_KINDS = frozenset({"购物", "短链"})

# Hosts of links: with a scheme or www. any domain or IPv4 address; bare domains only with a
# common top-level domain, so "v1.5" or "第3.2条" are not links. Not inside an e-mail address.
LINK = re.compile(
    r"(?<![a-z0-9@.\-_])(?P<scheme>(?:https?|ftp)://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?![a-z0-9\-@])(?::\d{1,5})?(?P<path>[/?#][!-~]*)?"
)
BARE_TLDS = frozenset(
    "com net org cn cc top xyz vip info biz me io co tv club site online shop link wang ltd "
    "app fun icu live pro".split()
)
_PICTURE = re.compile(r"\.(?:jpe?g|png|gif|webp|heic|heif|bmp)$")

# Contact-me patterns, matched on the folded text (moderation.normalize: lower case, full width
# folded, spaces and punctuation gone: "V X：abc_123" reads "vxabc_123").
_ASCII_LABEL = r"(?<![a-z0-9])(?:vx|wx|weixin|wechat|qq|tg|telegram|whatsapp)"
_CJK_LABEL = r"(?:微信|威信|薇信|徽信|维信|v信|扣扣|企鹅号|飞机号|电报号)"
_FILLER = r"(?:号码|号|账号|id|同号|群号|群|是|为|搜索|搜){0,3}"
# An account id: WeChat's (6-20 characters, a letter first) or a QQ or telephone number, not
# followed by a unit, so "微信转账20000元" names no account.
_UNIT = r"[\d.%w元块万千百亿笔次个天月年日号]"
_ID = rf"(?:[a-z][a-z0-9_\-]{{5,19}}(?![a-z0-9])|\d{{5,12}}(?!{_UNIT}))"
_CONTACT = re.compile(
    rf"(?:{_ASCII_LABEL}|{_CJK_LABEL}){_FILLER}{_ID}"
    rf"|加(?:我|个)?(?:微信|威信|薇信|v信|vx|wx|qq|扣扣|企鹅|tg|飞机|v(?:{_FILLER}{_ID}|(?![a-z])))"
    r"|私信我|私聊我|扫码(?:加|进|领|添加|关注)|(?:拉|带)你进群|进群领"
)


def contact_me(folded: str) -> bool:
    """Whether the folded text invites the reader to an account of a messaging app."""
    return _CONTACT.search(folded) is not None


@cache
def _shipped_hosts() -> tuple[tuple[str, str], ...]:
    found = rows("link_hosts.txt", "域名<TAB>类别", (2,))
    for host, kind in found:
        if kind not in NEUTRAL_KINDS | COUNTED_KINDS:
            raise DictionaryError(
                f"词表 link_hosts.txt「{host}」：类别应为 "
                f"{'、'.join(sorted(NEUTRAL_KINDS | COUNTED_KINDS))} 之一。"
            )
    return tuple((host.lower().strip("."), kind) for host, kind in found)


@dataclass(frozen=True)
class Links:
    counted: int  # links to unknown hosts, shops and short links, pictures excepted
    rest: str  # the text without its links (what self-repetition is measured on)


class LinkJudge:
    """Finds the links of a comment and counts those to hosts of a counted kind."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        kinds = dict(_shipped_hosts())
        kinds.update({h.lower().strip("."): "政务" for h in allowed_hosts})
        self._kinds = kinds

    def kind(self, host: str) -> str:
        """The kind of a host (its own, or its nearest listed parent domain's); "" if unknown."""
        labels = host.split(".")
        for i in range(len(labels) - 1):
            kind = self._kinds.get(".".join(labels[i:]))
            if kind:
                return kind
        return ""

    def judge(self, text: str) -> Links:
        """The links of `text`: how many count, and the text without any of them."""
        folded = unicodedata.normalize("NFKC", text).lower()
        count = 0
        pieces: list[str] = []
        last = 0
        for m in LINK.finditer(folded):
            host = m["host"]
            if (
                not m["scheme"]
                and not host.startswith("www.")
                and host.rsplit(".", 1)[-1] not in BARE_TLDS
            ):
                continue
            pieces.append(folded[last : m.start()])
            last = m.end()
            if self.kind(host) in NEUTRAL_KINDS:
                continue
            path = re.split(r"[?#]", m["path"] or "", maxsplit=1)[0].rstrip(".,;:!)]}'\"")
            if not _PICTURE.search(path):
                count += 1
        if not pieces:
            return Links(0, text)
        pieces.append(folded[last:])
        return Links(count, " ".join(pieces))

    def counted(self, text: str) -> int:
        """Links in `text` to unknown hosts, shops and short links (pictures excepted)."""
        return self.judge(text).counted


@dataclass
class Evidence:
    """What the spam steps found in one comment."""

    weak: set[str] = field(default_factory=set)
    hard: set[str] = field(default_factory=set)
    reporting: bool = False  # the comment reports a wrong done to its writer

    def verdict(self) -> tuple[str, ...]:
        """The flags of a spam comment (every signal found, in FLAG_ORDER); () if not spam."""
        needed = REPORTING_NEEDED if self.reporting else WEAK_NEEDED
        if not self.hard and len(self.weak) < needed:
            return ()
        found = self.weak | self.hard
        return tuple(k for k in FLAG_ORDER if k in found)
