"""Item files: Markdown with TOML front matter and JSON parse into ItemCreate; every error is an
ItemFileError naming the file, the line and the field."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.items.itemfile import (
    FIELD_LABELS,
    ItemFileError,
    load_item_file,
    load_item_patch,
    parse_item_text,
)
from bot.models import Disclosure, Kind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def toml_string(value: str) -> str:
    """A TOML basic string (the test's own writer, independent of the parser under test)."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# -- what parses ------------------------------------------------------------------------------
def test_markdown_front_matter_fields_and_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "n.md",
        """+++
kind = "notice"
title = "  关于假期安排的通知  "
summary = "摘要"
column = "notice"
doc_number = "沪金管〔2026〕1号"
office = "办公室"
disclosure = "proactive"
related_id = 3
interpretation_forms = ["图解", "视频"]
publish_at = 2026-12-01T09:00:00+08:00
channels = ["feed"]

[enforcement]
authority = "上海市地方金融监督管理局"
+++

第一段。

第二段。
""",
    )
    item = load_item_file(path)
    assert item.kind is Kind.NOTICE
    assert item.title == "关于假期安排的通知"
    assert item.body == "第一段。\n\n第二段。"
    assert item.doc_number == "沪金管〔2026〕1号"
    assert item.related_id == 3
    assert item.interpretation_forms == ["图解", "视频"]
    assert item.enforcement == {"authority": "上海市地方金融监督管理局"}
    assert item.publish_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert item.channels == ["feed"]


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("政策文件", Kind.POLICY),
        ("政策解读", Kind.INTERPRETATION),
        ("行政执法公示", Kind.ENFORCEMENT),
        ("通知公告", Kind.NOTICE),
        ("意见征集", Kind.CONSULTATION),
        ("consultation", Kind.CONSULTATION),
    ],
)
def test_kind_accepted_as_chinese_label_or_value(label: str, kind: Kind) -> None:
    item = parse_item_text(f'+++\nkind = "{label}"\ntitle = "t"\n+++\nbody', "markdown")
    assert item.kind is kind


@pytest.mark.parametrize(
    ("label", "disclosure"),
    [
        ("主动公开", Disclosure.PROACTIVE),
        ("依申请公开", Disclosure.ON_REQUEST),
        ("不予公开", Disclosure.WITHHELD),
        ("on_request", Disclosure.ON_REQUEST),
    ],
)
def test_disclosure_accepted_as_chinese_label_or_value(label: str, disclosure: Disclosure) -> None:
    item = parse_item_text(
        json.dumps({"kind": "notice", "title": "t", "disclosure": label}), "json"
    )
    assert item.disclosure is disclosure


def test_json_file_with_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.JSON",
        json.dumps(
            {
                "kind": "行政执法公示",
                "title": "处罚公示",
                "body": "正文",
                "enforcement": {"target": "某公司"},
            }
        ),
    )
    item = load_item_file(path)
    assert (item.kind, item.body, item.enforcement) == (
        Kind.ENFORCEMENT,
        "正文",
        {"target": "某公司"},
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "b.md", '\ufeff+++\nkind = "notice"\ntitle = "t"\n+++\nx'.encode())
    assert load_item_file(path).title == "t"


def test_examples_parse() -> None:
    notice = load_item_file(EXAMPLES / "notice-holiday.md")
    assert notice.kind is Kind.NOTICE and notice.body.startswith("各有关单位")
    penalty = load_item_file(EXAMPLES / "enforcement-penalty.json")
    assert penalty.kind is Kind.ENFORCEMENT and penalty.enforcement["authority"]


def test_patch_keeps_only_given_fields_and_refuses_publish_at(tmp_path: Path) -> None:
    patch, kind = load_item_patch(write(tmp_path, "p.md", '+++\ntitle = "新标题"\n+++\n'))
    assert patch.model_fields_set == {"title"} and kind is None
    with pytest.raises(ItemFileError) as err:
        load_item_patch(write(tmp_path, "q.md", "+++\npublish_at = 2026-01-01T00:00:00Z\n+++\n"))
    assert err.value.line == 2 and err.value.field == "publish_at"
    assert "item schedule" in str(err.value)


def test_wechat_title_is_read_from_a_file_and_an_edit(tmp_path: Path) -> None:
    item = load_item_file(
        write(
            tmp_path,
            "w.md",
            '+++\nkind = "notice"\ntitle = "关于假期安排的通知"\n'
            'wechat_title = " 假期安排 "\n+++\n正文',
        )
    )
    assert item.wechat_title == "假期安排"
    patch, _ = load_item_patch(write(tmp_path, "p.md", '+++\nwechat_title = "新的微信标题"\n+++\n'))
    assert patch.model_fields_set == {"wechat_title"} and patch.wechat_title == "新的微信标题"
    err = error(
        tmp_path, "x.md", f'+++\nkind = "notice"\ntitle = "t"\nwechat_title = "{"长" * 501}"\n+++\n'
    )
    assert err.field == "wechat_title" and err.line == 4 and "微信标题" in str(err)


# -- what is refused, and how it is named -----------------------------------------------------
def error(tmp_path: Path, name: str, content: str | bytes) -> ItemFileError:
    path = write(tmp_path, name, content)
    with pytest.raises(ItemFileError) as err:
        load_item_file(path)
    assert str(path) in str(err.value)  # every message names the file
    return err.value


def test_toml_syntax_error_names_file_line_and_key(tmp_path: Path) -> None:
    exc = error(tmp_path, "n.md", '+++\nkind = "notice"\ntitle = \n+++\nbody')
    assert (exc.line, exc.field) == (3, "title")
    assert "第 3 行" in str(exc) and "TOML" in str(exc)


def test_toml_line_counts_from_the_file_not_the_front_matter(tmp_path: Path) -> None:
    exc = error(tmp_path, "n.md", '\n\n+++\nkind = "notice"\ntitle = "t"\noffice = [\n+++\n')
    assert exc.line == 6 and exc.field == "office"


def test_missing_front_matter_and_unclosed_front_matter(tmp_path: Path) -> None:
    exc = error(tmp_path, "a.md", "# 标题\n正文")
    assert exc.line == 1 and "+++" in str(exc)
    exc = error(tmp_path, "y.md", "---\ntitle: x\n---\n")
    assert "YAML" in str(exc)
    exc = error(tmp_path, "b.md", '+++\nkind = "notice"\ntitle = "t"\n正文')
    assert exc.line == 1 and "没有结束的 +++" in str(exc)


def test_missing_title_falls_back_to_front_matter_first_line(tmp_path: Path) -> None:
    exc = error(tmp_path, "m.md", '+++\nkind = "notice"\nsummary = "s"\n+++\nbody')
    assert (exc.line, exc.field) == (2, "title")
    assert "缺少必填字段" in str(exc) and "标题" in str(exc)


def test_wrong_kind_names_line_and_choices(tmp_path: Path) -> None:
    exc = error(tmp_path, "k.md", '+++\ntitle = "t"\nkind = "新闻"\n+++\nbody')
    assert (exc.line, exc.field) == (3, "kind")
    assert "新闻" in str(exc) and "通知公告" in str(exc) and "notice" in str(exc)


def test_wrong_disclosure_names_line(tmp_path: Path) -> None:
    exc = error(
        tmp_path, "d.json", '{\n "kind": "notice",\n "title": "t",\n "disclosure": "公开"\n}'
    )
    assert (exc.line, exc.field) == (4, "disclosure") and "主动公开" in str(exc)


def test_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    exc = error(tmp_path, "u.md", '+++\nkind = "notice"\ntitle = "t"\nauthr = "x"\n+++\n')
    assert (exc.line, exc.field) == (4, "authr") and "未知字段「authr」" in str(exc)


def test_validation_error_on_a_later_json_line(tmp_path: Path) -> None:
    content = '{\n  "kind": "notice",\n  "title": "t",\n  "related_id": "abc"\n}'
    exc = error(tmp_path, "r.json", content)
    assert (exc.line, exc.field) == (4, "related_id") and "应为整数" in str(exc)


def test_naive_publish_at_is_refused_with_its_line(tmp_path: Path) -> None:
    exc = error(
        tmp_path,
        "t.md",
        '+++\nkind = "notice"\ntitle = "t"\npublish_at = 2026-12-01T09:00:00\n+++\n',
    )
    assert (exc.line, exc.field) == (4, "publish_at") and "时区" in str(exc)


def test_out_of_range_publish_at_is_an_item_file_error(tmp_path: Path) -> None:
    exc = error(
        tmp_path,
        "o.json",
        '{"kind": "notice", "title": "t", "publish_at": "0001-01-01T00:00:00+08:00"}',
    )
    assert exc.field == "publish_at"


def test_json_syntax_error_names_line_column_and_key(tmp_path: Path) -> None:
    exc = error(tmp_path, "j.json", '{\n  "kind": "notice",\n  "title": "t"\n  "body": "b"\n}')
    assert (exc.line, exc.field) == (4, "body")
    assert "第 4 行第 3 列" in str(exc) and "JSON" in str(exc)


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    exc = error(tmp_path, "l.json", "[1, 2]")
    assert "顶层须为对象" in str(exc) and "数组" in str(exc)


def test_body_in_front_matter_is_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, "f.md", '+++\nkind = "notice"\ntitle = "t"\nbody = "x"\n+++\n')
    assert (exc.line, exc.field) == (4, "body")


def test_not_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    prefix = b'+++\nkind = "notice"\ntitle = "'
    exc = error(tmp_path, "g.md", prefix + "公开".encode("gbk") + b'"\n+++\n')
    assert "UTF-8" in str(exc) and f"第 {len(prefix)} 字节" in str(exc) and exc.line == 3


def test_empty_file_is_refused(tmp_path: Path) -> None:
    assert "文件为空" in str(error(tmp_path, "e.md", b""))
    assert "文件为空" in str(error(tmp_path, "w.json", b"  \n"))


def test_extension_decides_the_format_and_unknown_extension_is_named(tmp_path: Path) -> None:
    exc = error(tmp_path, "n.txt", '+++\nkind = "notice"\ntitle = "t"\n+++\n')
    assert ".txt" in str(exc) and ".md" in str(exc) and ".json" in str(exc)
    # JSON content in a .md file is read as Markdown: the front matter is missing.
    exc = error(tmp_path, "n.md", '{"kind": "notice", "title": "t"}')
    assert "+++" in str(exc)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ItemFileError, match="文件不存在"):
        load_item_file(tmp_path / "nope.md")


def test_nul_character_is_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, "z.json", '{"kind": "notice",\n"title": "a\\u0000b"}')
    assert (exc.line, exc.field) == (2, "title") and "NUL" in str(exc)


# -- properties -------------------------------------------------------------------------------
# Text without NUL (refused by design) and without surrogates (not encodable in UTF-8).
clean_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
titles = clean_text.filter(lambda t: bool(t.strip()) and len(t.strip()) <= 500)
bodies = clean_text.map(lambda b: b.strip())


@settings(max_examples=150, deadline=None)
@given(title=titles, body=bodies, kind=st.sampled_from([*Kind, *("政策文件", "意见征集")]))
def test_title_and_body_round_trip_through_a_front_matter_file(
    title: str, body: str, kind: str
) -> None:
    content = f"+++\nkind = {toml_string(kind)}\ntitle = {toml_string(title)}\n+++\n\n{body}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "item.md"
        path.write_bytes(content.encode("utf-8"))
        item = load_item_file(path)
    assert item.title == title.strip()
    assert item.body == body


@settings(max_examples=150, deadline=None)
@given(title=titles, body=clean_text)
def test_title_and_body_round_trip_through_json(title: str, body: str) -> None:
    item = parse_item_text(json.dumps({"kind": "notice", "title": title, "body": body}), "json")
    assert (item.title, item.body) == (title.strip(), body)


def _parses_or_item_file_error(text: str, fmt: str) -> None:
    try:
        parse_item_text(text, fmt)
    except ItemFileError as exc:
        assert exc.problems and str(exc)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), fmt=st.sampled_from(["markdown", "json"]))
def test_arbitrary_text_raises_only_item_file_error(text: str, fmt: str) -> None:
    _parses_or_item_file_error(text, fmt)


@settings(max_examples=300, deadline=None)
@given(front=st.text(), body=st.text())
def test_arbitrary_front_matter_raises_only_item_file_error(front: str, body: str) -> None:
    _parses_or_item_file_error(f"+++\n{front}\n+++\n{body}", "markdown")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from([*FIELD_LABELS, "extra"]), json_values, max_size=8))
def test_arbitrary_json_objects_raise_only_item_file_error(data: dict[str, Any]) -> None:
    _parses_or_item_file_error(json.dumps(data), "json")


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(), suffix=st.sampled_from([".md", ".json", ".markdown"]))
def test_arbitrary_bytes_raise_only_item_file_error(raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"item{suffix}"
        path.write_bytes(raw)
        try:
            load_item_file(path)
        except ItemFileError as exc:
            assert str(path) in str(exc)
