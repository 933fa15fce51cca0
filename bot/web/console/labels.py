"""Who and what the console names for staff, in Chinese: an actor string as stored
(`user:alice`, `system:replies`, `token:…`, `cli:root`, `source:…`) becomes the person's
display name (张三（alice）) or the part of the system that acted (系统（答复发送）); an item id
its title. Every page that shows who did something goes through `Names`: loaded once for
what the page shows (a few queries), then looked up without any."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.models import ApiToken, Item, User

# The parts of Gongkai that act on their own (the `system:` actors the code writes).
SYSTEM_LABELS = {
    "dispatcher": "发布调度",
    "replies": "答复发送",
    "sla": "答复期限提醒与督办",
    "prereview": "预审",
    "sources": "上游导入",
    "mass_send": "微信群发",
    "menu": "微信自定义菜单",
    "audit": "审计日志",
    "console": "工作台登录保护",
    "retention": "数据保留清理",
    "sandbox": "演示数据",
    "wechat-auto-reply": "微信自动回复",
    "matters": "诉求归集与专项回应",
    "wechat-follow-up": "微信相关链接推送",
}
# What a comment's suggested answer came from (the knowledge base reads the search index's
# documents: `item:12`, `qa:3`, `faq:2`).
SOURCE_KINDS = {"item": "稿件", "qa": "网上咨询选登", "faq": "常见问题"}


def person(user: User) -> str:
    """A staff member as colleagues know them: 张三（alice）, or the username alone."""
    if user.display_name and user.display_name != user.username:
        return f"{user.display_name}（{user.username}）"
    return user.username


@dataclass
class Names:
    """The people, API tokens and item titles a page names, read once."""

    users: dict[str, User] = field(default_factory=dict)  # by username
    by_id: dict[int, User] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)  # by prefix and by name
    items: dict[int, str] = field(default_factory=dict)  # id -> title

    @classmethod
    async def load(
        cls,
        actors: Iterable[str] = (),
        usernames: Iterable[str] = (),
        user_ids: Iterable[int] = (),
        item_ids: Iterable[int] = (),
    ) -> Names:
        names = set(usernames)
        tokens: set[str] = set()
        for raw in actors:
            kind, sep, rest = (raw or "").partition(":")
            if not sep:
                names.add(kind)  # a bare username (the CLI's --as), or a name as written
            elif kind == "user":
                names.add(rest)
            elif kind == "token":
                tokens.add(rest)
        ids = {int(i) for i in user_ids}
        names.discard("")
        out = cls()
        if names or ids:
            found = await User.filter(username__in=sorted(names)).all() if names else []
            found += await User.filter(id__in=sorted(ids)).all() if ids else []
            for user in found:
                out.users[user.username] = user
                out.by_id[user.id] = user
        if tokens:
            rows = await ApiToken.filter(prefix__in=sorted(tokens)).prefetch_related("user")
            rows += await ApiToken.filter(name__in=sorted(tokens)).prefetch_related("user")
            for token in rows:
                out.tokens.setdefault(token.prefix, token)
                out.tokens.setdefault(token.name, token)
        wanted = {int(i) for i in item_ids}
        if wanted:
            titles = await Item.filter(id__in=sorted(wanted)).values_list("id", "title")
            out.items = {int(i): str(t) for i, t in titles}
        return out

    def __call__(self, raw: str | None) -> str:
        return self.actor(raw)

    def actor(self, raw: str | None) -> str:
        """Who acted, for people: never the stored prefix."""
        if not raw:
            return "—"
        kind, sep, rest = raw.partition(":")
        if not sep:
            if raw == "cli":
                return "命令行"
            user = self.users.get(raw)
            return person(user) if user is not None else raw
        if kind == "user":
            return self.username(rest)
        if kind == "system":
            return f"系统（{SYSTEM_LABELS.get(rest, rest)}）"
        if kind == "token":
            token = self.tokens.get(rest)
            if token is None:
                return f"API 令牌「{rest}」"
            return f"API 令牌「{token.name}」（{person(token.user)}）"
        if kind == "cli":
            return f"命令行（服务器用户 {rest}）" if rest else "命令行"
        if kind == "source":
            return f"上游导入（{rest}）"
        return raw

    def username(self, name: str | None) -> str:
        if not name:
            return "—"
        user = self.users.get(name)
        return person(user) if user is not None else name

    def user_id(self, user_id: int | str | None) -> str:
        """A staff member by account id (or, as some events name them, by username)."""
        if user_id is None or user_id == "":
            return "—"
        if isinstance(user_id, int) or str(user_id).isdigit():
            user = self.by_id.get(int(user_id))
            return person(user) if user is not None else f"账号 #{user_id}"
        return self.username(str(user_id))

    def item(self, item_id: int | str | None) -> str:
        """An item by its title in 《》, or by number when it is not (or no longer) there."""
        if item_id is None or not str(item_id).isdigit():
            return "—"
        title = self.items.get(int(item_id))
        return f"《{title}》" if title is not None else f"稿件 #{item_id}"

    def source(self, raw: str | None) -> str:
        """Where a suggested answer came from (`item:12` → 《title》, `faq:3` → 常见问题 #3,
        `qa:3` → 网上咨询选登 #3)."""
        if not raw:
            return ""
        kind, sep, rest = raw.partition(":")
        if sep and kind == "item" and rest.isdigit():
            return self.item(rest)
        if sep and kind in SOURCE_KINDS:
            return f"{SOURCE_KINDS[kind]} #{rest}"
        return raw


def item_of_source(raw: str | None) -> int | None:
    """The item a suggested answer came from, if it came from one."""
    kind, sep, rest = (raw or "").partition(":")
    return int(rest) if sep and kind == "item" and rest.isdigit() and len(rest) < 10 else None


# (substring of a User-Agent, name), first match wins: Edge and 微信 also say Chrome/Safari.
_BROWSERS = (
    ("MicroMessenger", "微信内置浏览器"),
    ("Edg/", "Edge 浏览器"),
    ("HeadlessChrome", "无界面 Chrome（自动化程序）"),
    ("Chrome/", "Chrome 浏览器"),
    ("Firefox/", "Firefox 浏览器"),
    ("Safari/", "Safari 浏览器"),
    ("curl/", "命令行工具 curl"),
    ("python", "Python 程序"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Mac OS X", "macOS"),
    ("Android", "Android"),
    ("Linux", "Linux"),
)


def device(user_agent: str | None) -> str:
    """A browser's User-Agent as staff say it: Chrome 浏览器 · Windows (the raw string stays
    in the page's title attribute for whoever needs it)."""
    ua = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in ua), "")
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    return " · ".join(part for part in (browser, system) if part) or ("未知浏览器" if ua else "—")
