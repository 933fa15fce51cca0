"""`gongkai item add 通知.docx`: a Word document (written by python-docx) becomes a draft with its
title, 文号 and 成文日期, a body with its heading, lists, table and picture (stored as an upload
in [web.media] dir), through click's CliRunner against a real SQLite file. Refusals exit 4 (2
for a bad option), name the problem and leave no item and no stored picture behind."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest

from tests.cli import test_main
from tests.cli.test_main import Cli, write_config
from tests.items.test_media import cfb, png, png_claiming
from tests.items.test_wordfile import TITLE, notice_docx, saved, xlsx, zip_bomb

# The fixtures of test_main.py, used here too.
fresh = test_main.fresh
cli = test_main.cli


@pytest.fixture
def word(cli: Cli) -> Cli:
    """The command line with its media directory under the test's tmp_path."""
    media = cli.tmp / "media"
    cli.config = write_config(cli.tmp / "word.toml", cli.db_file, f'[web.media]\ndir = "{media}"\n')
    return cli


def media_files(cli: Cli) -> list[str]:
    media = cli.tmp / "media"
    return sorted(p.name for p in media.iterdir()) if media.exists() else []


def document(cli: Cli, name: str, data: bytes) -> str:
    path = cli.tmp / name
    path.write_bytes(data)
    return str(path)


def test_a_word_document_becomes_a_draft_with_its_fields_and_its_whole_body(word: Cli) -> None:
    path = document(word, "通知.docx", notice_docx())
    added = word.json("item", "add", path, "--as", "alice")
    assert (added["title"], added["title_from"]) == (TITLE, "居中加粗行")
    assert (added["doc_number"], added["written_on"]) == ("银发〔2024〕12号", "2024-03-15")
    [url] = added["images"]
    name = url.removeprefix("/media/")
    assert media_files(word) == [name, name + ".json"]

    item = word.json("item", "show", str(added["id"]))["item"]
    assert (item["kind"], item["status"], item["column"]) == ("notice", "draft", "notice")
    body = item["body"]
    assert "## 一、工作目标" in body
    assert "1. 完善公开目录\n2. 规范发布流程" in body and "- 每月更新一次" in body
    assert "| 事项 | 时限 |\n| --- | --- |\n| 目录更新 | 3月底 |" in body
    assert f"![通知-图1]({url})" in body
    assert "OK" in word.run("audit", "verify").output


def test_the_kind_and_column_are_options_and_the_summary_names_what_was_found(word: Cli) -> None:
    path = document(word, "通知.docx", notice_docx())
    out = word.run("item", "add", path, "--as", "alice", "--kind", "政策文件").output
    assert re.search(r"已从「通知.docx」新建条目 #\d+「" + TITLE + "」（政策文件，草稿）", out)
    assert "文号 银发〔2024〕12号" in out and "成文日期 2024-03-15" in out and "图片 1 张" in out
    assert word.json("item", "list")[0]["kind"] == "policy"

    out = word.run("item", "add", path, "--as", "alice", "--kind", "新闻", code=2).output
    assert "--kind 的取值「新闻」无效" in out
    out = word.run("item", "add", path, "--as", "alice", "--column", "无此栏目", code=4).output
    assert "栏目「无此栏目」不存在" in out
    notice = word.file("n.md", test_main.NOTICE)
    out = word.run("item", "add", notice, "--as", "alice", "--kind", "policy", code=2).output
    assert "只用于 .docx" in out
    assert len(word.json("item", "list")) == 1


@pytest.mark.parametrize(("name", "data"), [("通知.doc", cfb("WordDocument")), ("通知.wps", b"x")])
def test_doc_and_wps_files_are_refused_asking_for_docx(word: Cli, name: str, data: bytes) -> None:
    out = word.run("item", "add", document(word, name, data), "--as", "alice", code=4).output
    assert f"「{name}」" in out and "请另存为 .docx 后上传" in out
    assert word.json("item", "list") == [] and media_files(word) == []


def test_a_renamed_workbook_and_a_zip_bomb_are_refused_and_nothing_is_written(word: Cli) -> None:
    out = word.run("item", "add", document(word, "通知.docx", xlsx()), "--as", "alice", code=4)
    assert "是Excel 表格（.xlsx），不是 Word 文档" in out.output
    bomb = document(word, "炸弹.docx", zip_bomb(110 * 1024 * 1024))
    out = word.run("item", "add", bomb, "--as", "alice", code=4)
    assert "超过解压后大小上限 100.0 MB（[web.media.word] max_uncompressed_bytes）" in out.output
    assert word.json("item", "list") == [] and media_files(word) == []


def test_a_picture_refused_after_others_were_stored_leaves_none_of_them(word: Cli) -> None:
    two = docx.Document()
    two.add_paragraph("正文。")
    two.add_picture(io.BytesIO(png(4, 3)))
    two.add_picture(io.BytesIO(png_claiming(20_000, 20_000)))  # 4 亿像素: over the limit
    out = word.run("item", "add", document(word, "图.docx", saved(two)), "--as", "alice", code=4)
    assert "「图.docx」中的第 2 张图片未能保存" in out.output and "像素上限" in out.output
    assert word.json("item", "list") == [] and media_files(word) == []


def test_a_reviewer_cannot_import_and_nothing_is_stored(word: Cli, tmp_path: Path) -> None:
    path = document(word, "通知.docx", notice_docx())
    out = word.run("item", "add", path, "--as", "bob", code=4).output
    assert "editor" in out
    assert word.json("item", "list") == [] and media_files(word) == []
