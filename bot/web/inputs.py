"""What strangers send, read safely: a form (urlencoded or multipart) whose parsing fails for
any reason is a 400 with a Chinese message, never a 500; JSON is parsed with bounded nesting;
text is checked for what cannot be stored or echoed (lone surrogates, NUL and other control
characters). Every route that reads a form or JSON body reads it through here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

MAX_DEPTH = 64  # nesting of JSON arrays and objects; deeper is refused before parsing
# Control characters text may not carry (tab, newline and carriage return are text).
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}


class BadInput(ValueError):
    """The input cannot be read; str() is the Chinese reason, naming where."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or shown (Chinese), or None."""
    for i, ch in enumerate(value):
        if "\ud800" <= ch <= "\udfff":
            return f"第 {i + 1} 个字符是不成对的代理码元（U+{ord(ch):04X}），不是合法的文字"
        if ch in _CONTROL:
            return f"第 {i + 1} 个字符是控制字符 U+{ord(ch):04X}"
    return None


def check_texts(data: Any, where: str = "") -> None:
    """BadInput naming the first string (value or key) in `data` that text_problem refuses."""
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            raise BadInput(f"{where or '(body)'}：{problem}")
    elif isinstance(data, dict):
        for key, value in data.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and text_problem(key):
                raise BadInput(f"字段名 {key!r} 含有非法字符：{text_problem(key)}")
            check_texts(value, path)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_texts(value, f"{where}[{i}]")


def _depth(raw: str) -> int:
    """The deepest nesting of [ and { outside strings (a cheap scan before parsing)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def load_json(text: str, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """json.loads with nesting bounded (MAX_DEPTH): BadInput for deeper documents; the
    json module's own errors pass through."""
    if _depth(text) > MAX_DEPTH:
        raise BadInput(f"JSON 嵌套超过 {MAX_DEPTH} 层")
    return json.loads(text, parse_constant=parse_constant)


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The request's form; 400 (Chinese, plain text) when it cannot be parsed or carries text
    that cannot be stored. File parts are left to the handler."""
    try:
        form = await request.post()
    except (
        ValueError,
        AssertionError,
        LookupError,
        UnicodeError,
        TypeError,
        HttpProcessingError,  # a part's headers are malformed (aiohttp's InvalidHeader)
    ) as exc:
        raise web.HTTPBadRequest(
            text=f"表单无法解析：请求体不是有效的表单数据（{type(exc).__name__}）。",
            content_type="text/plain",
        ) from exc
    for key, value in form.items():
        problem = text_problem(key) or (text_problem(value) if isinstance(value, str) else None)
        if problem is None and not isinstance(value, str):
            name = getattr(value, "filename", "") or ""
            problem = text_problem(name) and f"文件名：{text_problem(name)}"
        if problem:
            shown = key[:64] if text_problem(key) is None else "（字段名含非法字符）"
            raise web.HTTPBadRequest(
                text=f"表单字段「{shown}」无法接受：{problem}。",
                content_type="text/plain",
            )
    return form
