"""Item files: read an item from Markdown with TOML front matter (`+++` lines, Hugo style) or
from a JSON object, and validate it into bot.items.schemas.ItemCreate (or ItemPatch for edits).

Every error is an ItemFileError whose message (Chinese) names the file, the line and the field.
The format is described in docs/item-files.md.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.errors import Refusal
from bot.items.schemas import ItemCreate, ItemPatch, field_errors
from bot.models import DISCLOSURE_LABELS, KIND_LABELS, Disclosure, Kind

MARKDOWN_SUFFIXES = (".md", ".markdown")
JSON_SUFFIXES = (".json",)
FENCE = "+++"

FIELD_LABELS = {
    "kind": "类型",
    "title": "标题",
    "wechat_title": "微信标题",
    "summary": "摘要",
    "body": "正文",
    "column": "栏目",
    "doc_number": "文号",
    "office": "处室",
    "disclosure": "公开属性",
    "withheld_basis": "不予公开依据",
    "related_id": "关联条目",
    "interpretation_forms": "解读形式",
    "enforcement": "执法公示字段",
    "publish_at": "发布时间",
    "channels": "渠道",
    "notify": "群发通知",
    "priority": "群发优先级",
    "written_on": "成文日期",
    "topic": "主题分类",
    "publisher": "发布机构",
}

_KINDS_BY_LABEL = {label: kind for kind, label in KIND_LABELS.items()}
_DISCLOSURES_BY_LABEL = {label: d for d, label in DISCLOSURE_LABELS.items()}
_KIND_VALUES = frozenset(k.value for k in Kind)
_DISCLOSURE_VALUES = frozenset(d.value for d in Disclosure)
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?:\.|=)")
_JSON_MESSAGES = {
    "Expecting value": "此处应为一个值",
    "Expecting ',' delimiter": "此处缺少逗号 ,",
    "Expecting ':' delimiter": "此处缺少冒号 :",
    "Expecting property name enclosed in double quotes": "此处应为用双引号括起的字段名",
    "Unterminated string starting at": "字符串没有结束的双引号",
    "Invalid control character at": "字符串中含有未转义的控制字符",
    "Extra data": "JSON 对象结束后还有多余内容",
    "Invalid \\escape": "无效的转义序列",
}


class ItemFileError(Refusal):
    """An item file that cannot be read or is invalid; str() names file, line and field."""

    status_code = 422
    code = "invalid_item_file"

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        first = problems[0]
        self.line = first.line
        self.field = first.field
        super().__init__("\n".join(p.render(source) for p in problems))


@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def render(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f" 第 {self.line} 行"
            if self.column is not None:
                where += f"第 {self.column} 列"
        if self.field:
            label = FIELD_LABELS.get(self.field.split(".")[0])
            where += f"，字段 {self.field}" + (f"（{label}）" if label else "")
        return f"{where}：{self.message}"


def _fail(
    source: str,
    message: str,
    line: int | None = None,
    column: int | None = None,
    field: str | None = None,
) -> ItemFileError:
    return ItemFileError(source, [Problem(message, line, column, field)])


@dataclass(frozen=True)
class RawItem:
    """The fields found in a file, before validation, and where each key was written."""

    source: str
    data: dict[str, Any]
    text: str  # the text keys are searched in (front matter or whole JSON document)
    first_line: int  # line number (1-based, in the file) of text's first line
    is_json: bool

    def line_of(self, key: str) -> int:
        """The file line where `key` is written; the front matter's first line if not found."""
        if self.is_json:
            pattern = re.compile(r'"' + re.escape(key) + r'"\s*:')
        else:
            pattern = re.compile(
                r"^\s*(?:\[\s*" + re.escape(key) + r"\s*[.\]]|\"?" + re.escape(key) + r"\"?\s*[.=])"
            )
        for number, line in enumerate(self.text.split("\n")):
            if pattern.search(line):
                return self.first_line + number
        return self.first_line


# -- reading ---------------------------------------------------------------------------------
def decode(raw: bytes, source: str) -> str:
    """UTF-8 (a BOM is allowed); an empty file or another encoding is an ItemFileError."""
    if not raw.strip():
        raise _fail(source, "文件为空，没有任何内容。", line=1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _fail(
            source,
            f"文件不是 UTF-8 编码（第 {exc.start} 字节处的字节 0x{raw[exc.start]:02x} 无效）；"
            "请以 UTF-8 保存后重试。",
            line=line,
        ) from exc
    return text.removeprefix("\ufeff")


def file_format(path: Path) -> str:
    """'markdown' or 'json', decided by the file's extension."""
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise _fail(
        str(path),
        f"无法根据扩展名「{suffix or '（无）'}」判断文件格式：条目文件须为 .md / .markdown"
        "（Markdown 正文加 +++ 包围的 TOML 前置元数据）或 .json（JSON 对象）；"
        "`gongkai item add` 也接受 Word 文档 .docx。",
    )


def read_raw(path: Path) -> RawItem:
    fmt = file_format(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise _fail(str(path), "文件不存在。") from exc
    except OSError as exc:
        raise _fail(str(path), f"无法读取文件：{exc.strerror or exc}") from exc
    return parse_raw(decode(raw, str(path)), fmt, str(path))


def parse_raw(text: str, fmt: str, source: str) -> RawItem:
    if not text.strip():
        raise _fail(source, "文件为空，没有任何内容。", line=1)
    try:
        if fmt == "markdown":
            return _parse_markdown(text, source)
        if fmt == "json":
            return _parse_json(text, source)
    except RecursionError as exc:
        raise _fail(source, "嵌套层次过深，无法解析。") from exc
    raise ValueError(f"unknown item file format {fmt!r}")


def _parse_markdown(text: str, source: str) -> RawItem:
    # Lines are split on "\n" only: that is how tomllib counts the lines it reports.
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), 0)
    opening = lines[start].strip()
    if opening != FENCE:
        hint = "（不支持 YAML 的 --- 前置元数据，请改用 +++ 与 TOML）" if opening == "---" else ""
        raise _fail(
            source,
            f"缺少前置元数据：Markdown 条目文件须以单独一行 +++ 开头，其后是 TOML 字段，"
            f"再以单独一行 +++ 结束{hint}。",
            line=start + 1,
        )
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == FENCE), None)
    if end is None:
        raise _fail(source, f"第 {start + 1} 行开始的前置元数据没有结束的 +++ 行。", line=start + 1)
    front = "\n".join(lines[start + 1 : end])
    first_line = start + 2
    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(source, str(exc), front, first_line) from exc
    raw = RawItem(source, data, front, first_line, is_json=False)
    if "body" in data:
        raise _fail(
            source,
            "正文请写在结束的 +++ 行之后，不要写在前置元数据中。",
            line=raw.line_of("body"),
            field="body",
        )
    rest = "\n".join(lines[end + 1 :])
    body = re.sub(r"\A(?:[ \t\r]*\n)+", "", rest).rstrip()
    if body:
        data["body"] = body
    return raw


def _toml_error(source: str, message: str, front: str, first_line: int) -> ItemFileError:
    line: int | None = None
    column: int | None = None
    match = _TOML_POS.search(message)
    if match:
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif _TOML_END.search(message):
        line = max(1, len(front.split("\n")))
        message = _TOML_END.sub("", message)
    field = None
    if line is not None:
        key = (
            _TOML_KEY.match(front.split("\n")[line - 1]) if line <= len(front.split("\n")) else None
        )
        field = key[1] if key else None
        line += first_line - 1
    return _fail(source, f"前置元数据不是有效的 TOML：{message}", line, column, field)


def _parse_json(text: str, source: str) -> RawItem:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = next((zh for en, zh in _JSON_MESSAGES.items() if exc.msg.startswith(en)), exc.msg)
        key = re.search(r'"([A-Za-z0-9_]+)"\s*:', text.split("\n")[exc.lineno - 1])
        raise _fail(
            source, f"不是有效的 JSON：{message}", exc.lineno, exc.colno, key[1] if key else None
        ) from exc
    if not isinstance(data, dict):
        raise _fail(source, f"JSON 文件的顶层须为对象 {{…}}，而不是{_json_type(data)}。", line=1)
    return RawItem(source, data, text, 1, is_json=True)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "数组"
    if isinstance(value, str):
        return "字符串"
    if value is None:
        return "null"
    return "数值" if isinstance(value, int | float) and not isinstance(value, bool) else "布尔值"


# -- validating ------------------------------------------------------------------------------
def _normalize(raw: RawItem) -> tuple[dict[str, Any], list[Problem]]:
    """Accept Chinese labels for kind and disclosure; refuse text no database can store."""
    data = dict(raw.data)
    problems: list[Problem] = []
    for key, value in data.items():
        bad = _bad_text(value)
        if bad:
            problems.append(Problem(bad, raw.line_of(key), field=str(key)))
    if "kind" in data and isinstance(data["kind"], str):
        value = data["kind"].strip()
        kind = kind_from_text(value)
        if kind is None:
            choices = "、".join(f"{k.value}（{label}）" for k, label in KIND_LABELS.items())
            problems.append(
                Problem(
                    f"类型「{value}」无效，可选：{choices}。", raw.line_of("kind"), field="kind"
                )
            )
        else:
            data["kind"] = kind.value
    if "disclosure" in data and isinstance(data["disclosure"], str):
        value = data["disclosure"].strip()
        disclosure = _DISCLOSURES_BY_LABEL.get(value) or (
            Disclosure(value) if value in _DISCLOSURE_VALUES else None
        )
        if disclosure is None:
            choices = "、".join(f"{d.value}（{label}）" for d, label in DISCLOSURE_LABELS.items())
            problems.append(
                Problem(
                    f"公开属性「{value}」无效，可选：{choices}。",
                    raw.line_of("disclosure"),
                    field="disclosure",
                )
            )
        else:
            data["disclosure"] = disclosure.value
    return data, problems


def _check(
    raw: RawItem,
    data: dict[str, Any],
    problems: list[Problem],
    model: type[ItemCreate] | type[ItemPatch],
) -> Any:
    """Validate; report the problems found so far together with the model's own."""
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        seen = {p.field for p in problems}
        problems = problems + [p for p in _validation_problems(raw, exc) if p.field not in seen]
    except OverflowError as exc:  # an extreme time zone offset at the edge of datetime's range
        raise _fail(
            raw.source, "发布时间超出可表示的范围。", raw.line_of("publish_at"), field="publish_at"
        ) from exc
    else:
        if not problems:
            return result
    raise ItemFileError(raw.source, sorted(problems, key=lambda p: p.line or 0))


def _bad_text(value: Any) -> str | None:
    for text in _strings(value):
        if "\x00" in text:
            return "含有 NUL 字符（\\u0000），无法保存。"
        if any("\ud800" <= ch <= "\udfff" for ch in text):
            return "含有无效的 Unicode 代理字符（如 \\ud800），无法保存。"
    return None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _validation_problems(raw: RawItem, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in field_errors(exc):
        field = err["field"]
        key = field.split(".")[0]
        message = err["message"]
        if message == "未知字段":
            known = "、".join(FIELD_LABELS)
            message = f"未知字段「{key}」；可用字段：{known}。"
        elif message == "缺少必填字段":
            message = "缺少必填字段。"
        elif err["value"] is not None and not isinstance(err["value"], bool):
            message = f"{message}（值：{err['value']!r}）"
        problems.append(Problem(message, raw.line_of(key), field=field))
    return problems


def to_create(raw: RawItem) -> ItemCreate:
    data, problems = _normalize(raw)
    result: ItemCreate = _check(raw, data, problems, ItemCreate)
    return result


def to_patch(raw: RawItem) -> tuple[ItemPatch, str | None]:
    """An edit: (the patch of the fields given, the kind the file names if any). publish_at is
    refused: the schedule action changes it."""
    data, problems = _normalize(raw)
    kind = data.pop("kind", None)
    if "publish_at" in data:
        del data["publish_at"]
        problems.append(
            Problem(
                "修改稿件时不能更改发布时间，请使用 `gongkai item schedule`。",
                raw.line_of("publish_at"),
                field="publish_at",
            )
        )
    patch: ItemPatch = _check(raw, data, problems, ItemPatch)
    return patch, kind if isinstance(kind, str) else None


def parse_item_text(text: str, fmt: str, source: str = "<文本>") -> ItemCreate:
    """Parse the text of an item file ('markdown' or 'json') into a new item."""
    return to_create(parse_raw(text, fmt, source))


def load_item_file(path: str | Path) -> ItemCreate:
    """Read and validate an item file; the format follows the extension (.md/.markdown/.json)."""
    return to_create(read_raw(Path(path)))


def load_item_patch(path: str | Path) -> tuple[ItemPatch, str | None]:
    """Read an item file as an edit: only the fields it gives change."""
    return to_patch(read_raw(Path(path)))


def kind_from_text(value: str) -> Kind | None:
    """A kind from its value or its Chinese label (for command-line filters)."""
    value = value.strip()
    return _KINDS_BY_LABEL.get(value) or (Kind(value) if value in _KIND_VALUES else None)
