"""Word documents read as items (bot/items/wordfile.py, word_head.py, word_package.py), on real
.docx files written by python-docx, an independent writer: the title, 文号 and 成文日期 from the
head, headings, numbered and bulleted lists, tables and pictures in the body as they render on
an item page; and the refusals, each naming the file and the problem: a renamed .xlsx, a .doc
or .wps, a truncated ZIP, random bytes, a zip bomb, too many entries, a DTD, a GIF picture.

The builders at the top are shared with the command line's and the console's tests."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, WordConfig, parse_config
from bot.items.render import Renderer
from bot.items.word_head import header_line
from bot.items.wordfile import WordFileError, WordFileTooLarge, read_word, read_word_file
from tests.items.test_media import cfb, png

LIMITS = WordConfig()
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
TITLE = "关于做好2024年政务公开工作的通知"


def _centered(document: Any, text: str, bold: bool = False, size: int | None = None) -> None:
    paragraph = document.add_paragraph()
    run = paragraph.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def notice_docx(picture: bytes | None = None, pictures: int = 1) -> bytes:
    """A 公文-shaped notice: the 文号 above a centered bold title, the addressees, a heading, a
    numbered list, a bulleted list, a table, a picture, and the 落款 with its date."""
    document = docx.Document()
    _centered(document, "银发〔2024〕12号")
    _centered(document, TITLE, bold=True)
    document.add_paragraph("各处室：")
    document.add_heading("一、工作目标", level=1)
    document.add_paragraph("完善公开目录", style="List Number")
    document.add_paragraph("规范发布流程", style="List Number")
    document.add_paragraph("每月更新一次", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {
        (0, 0): "事项",
        (0, 1): "时限",
        (1, 0): "目录更新",
        (1, 1): "3月底",
    }.items():
        table.cell(row, col).text = text
    for _ in range(pictures):
        document.add_picture(io.BytesIO(picture or png(4, 3)))
    document.add_paragraph("中国人民银行办公厅")
    document.add_paragraph("2024年3月15日")
    return saved(document)


def saved(document: Any) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "公开目录"
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def zip_bomb(unpacked: int) -> bytes:
    """A .docx-shaped ZIP (content types, document) whose picture entry unpacks to `unpacked`
    zero bytes from a few hundred KB."""
    real = notice_docx()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as source, zipfile.ZipFile(buf, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        entry = zipfile.ZipInfo("word/media/bomb.png")
        entry.compress_type = zipfile.ZIP_DEFLATED
        with out.open(entry, "w", force_zip64=True) as f:
            block = bytes(1024 * 1024)
            for _ in range(unpacked // len(block)):
                f.write(block)
    return buf.getvalue()


def with_parts(base: bytes, parts: dict[str, bytes]) -> bytes:
    """`base` with some of its entries replaced or added."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(buf, "w") as out:
        for info in source.infolist():
            if info.filename not in parts:
                out.writestr(info, source.read(info))
        for name, data in parts.items():
            out.writestr(name, data)
    return buf.getvalue()


NOTICE = notice_docx()


def rendered(body: str) -> str:
    config: Config = parse_config({})
    return Renderer(config).body_html(body)


# -- what a document gives --------------------------------------------------------------------
def test_a_notice_gives_its_title_doc_number_date_and_a_body_with_all_its_parts() -> None:
    word = read_word(notice_docx(), "通知.docx", LIMITS)
    assert (word.title, word.title_from) == (TITLE, "居中加粗行")
    assert word.doc_number == "银发〔2024〕12号"
    assert word.written_on == date(2024, 3, 15)
    [image] = word.images
    assert image.data == png(4, 3) and image.filename == "通知-图1.png"
    body = word.body_with({image.placeholder: "/media/0123456789abcdef0123456789abcdef.png"})
    # the title and the 文号 line became fields; the 落款 stays in the body
    assert TITLE not in body and "银发" not in body
    assert body.startswith("各处室：") and body.endswith("2024年3月15日")
    html = rendered(body)
    assert "<h2>一、工作目标</h2>" in html  # the page's h1 is the title
    assert "<ol>\n<li>完善公开目录</li>\n<li>规范发布流程</li>\n</ol>" in html
    assert "<ul>\n<li>每月更新一次</li>\n</ul>" in html
    assert "<th>事项</th>" in html and "<td>目录更新</td>" in html and "<td>3月底</td>" in html
    assert '<img src="http://127.0.0.1:8080/media/0123456789abcdef0123456789abcdef.png"' in html


def test_the_title_style_wins_and_a_long_title_over_two_lines_is_joined() -> None:
    document = docx.Document()
    document.add_paragraph("办公室")
    document.add_heading("关于印发《政务公开工作要点》的", level=0)  # python-docx: the Title style
    document.add_heading("通知", level=0)
    document.add_paragraph("文号：沪府办发〔2024〕3号")
    document.add_paragraph("成文日期：2024-02-01")
    document.add_paragraph("正文。")
    word = read_word(saved(document), "a.docx", LIMITS)
    assert (word.title, word.title_from) == ("关于印发《政务公开工作要点》的通知", "标题样式")
    assert (word.doc_number, word.written_on) == ("沪府办发〔2024〕3号", date(2024, 2, 1))
    assert word.body == "办公室\n\n正文。"


def test_without_a_title_line_the_first_heading_or_else_the_file_name_is_the_title() -> None:
    document = docx.Document()
    document.add_heading("政务公开工作要点", level=1)
    document.add_paragraph("（2024年3月1日 沪府发〔2024〕3号）")
    document.add_paragraph("一、总体要求")
    word = read_word(saved(document), "要点.docx", LIMITS)
    assert (word.title, word.title_from) == ("政务公开工作要点", "首个标题")
    assert (word.doc_number, word.written_on) == ("沪府发〔2024〕3号", date(2024, 3, 1))
    assert word.body == "一、总体要求"

    plain = docx.Document()
    plain.add_paragraph("各处室：请于本周内报送材料。")
    word = read_word(saved(plain), "关于报送材料的通知.docx", LIMITS)
    assert (word.title, word.title_from) == ("关于报送材料的通知", "文件名")
    assert word.doc_number == "" and word.written_on is None


def test_a_masthead_and_a_large_centered_title_set_in_chinese_numerals() -> None:
    document = docx.Document()
    _centered(document, "中国人民银行文件", bold=True, size=36)
    _centered(document, "银发〔2024〕12号")
    _centered(document, TITLE, size=22)  # 二号 小标宋: large, not bold
    document.add_paragraph("正文。")
    document.add_paragraph("二〇二四年三月十五日")
    word = read_word(saved(document), "a.docx", LIMITS)
    assert (word.title, word.doc_number, word.written_on) == (
        TITLE,
        "银发〔2024〕12号",
        date(2024, 3, 15),
    )
    # the masthead stays for the editor to keep or delete; the 落款's date stays in the body
    assert word.body == "**中国人民银行文件**\n\n正文。\n\n二〇二四年三月十五日"


def test_a_line_that_mentions_a_number_or_a_date_among_other_words_is_body() -> None:
    assert header_line("根据银发〔2024〕12号文件精神") is None
    assert header_line("自2024年3月1日起施行。") is None
    assert header_line("2024年13月1日") is None  # no such month
    assert header_line("发文字号：银发［2024］12号") == (
        "银发［2024］12号",
        None,
    )  # kept as written
    assert header_line("（2024年3月1日 沪府发〔2024〕3号）") == (
        "沪府发〔2024〕3号",
        date(2024, 3, 1),
    )


@given(st.dates(min_value=date(1949, 10, 1), max_value=date(2099, 12, 31)))
def test_any_written_date_reads_back_in_arabic_and_in_chinese_numerals(day: date) -> None:
    digits = "〇一二三四五六七八九"

    def chinese(n: int) -> str:
        tens, ones = divmod(n, 10)
        return (
            (digits[tens] if tens > 1 else "")
            + ("十" if tens else "")
            + (digits[ones] if ones else "")
        )

    year = "".join(digits[int(d)] for d in str(day.year))
    for text in (
        f"{day.year}年{day.month}月{day.day}日",
        f"{year}年{chinese(day.month)}月{chinese(day.day)}日",
        f"成文日期：{day.isoformat()}",
    ):
        assert header_line(text) == ("", day), text


def test_merged_table_cells_keep_the_columns_aligned() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for row in range(3):
        for col in range(3):
            table.cell(row, col).text = f"格{row}{col}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(1, 2).merge(table.cell(2, 2))
    word = read_word(saved(document), "表.docx", LIMITS)
    rows = [line for line in word.body.split("\n") if line.startswith("|")]
    assert rows[0] == "| 格00 格01 |  | 格02 |"
    assert rows[2] == "| 格10 | 格11 | 格12 格22 |"
    assert rows[3] == "| 格20 | 格21 |  |"


# -- refusals ---------------------------------------------------------------------------------
def refusal(data: bytes, name: str = "通知.docx", limits: WordConfig = LIMITS) -> str:
    with pytest.raises(WordFileError) as err:
        read_word(data, name, limits)
    return str(err.value)


@pytest.mark.parametrize("name", ["通知.doc", "通知.wps", "通知.DOC"])
def test_doc_and_wps_files_are_refused_with_save_as_docx(name: str) -> None:
    message = refusal(notice_docx(), name)
    assert f"「{name}」" in message and "请另存为 .docx 后上传" in message


def test_a_doc_or_an_encrypted_document_named_docx_is_refused_by_its_bytes() -> None:
    assert "请另存为 .docx 后上传" in refusal(cfb("WordDocument"))
    assert "打开密码" in refusal(cfb("EncryptedPackage"))


def test_a_renamed_xlsx_is_refused_as_an_excel_workbook() -> None:
    message = refusal(xlsx())
    assert "「通知.docx」是Excel 表格（.xlsx），不是 Word 文档" in message


def test_truncated_zips_random_bytes_empty_files_and_other_names_are_refused() -> None:
    whole = notice_docx()
    assert "已损坏或不完整" in refusal(whole[: len(whole) // 2])
    assert "已损坏或不完整" in refusal(whole[:-30])  # the ZIP's directory cut
    assert "不是 .docx 文件" in refusal(bytes(range(256)) * 4)
    assert "是PNG 图片，不是 .docx 文件" in refusal(png())
    assert "空文件" in refusal(b"")
    assert "只能导入 .docx 文件" in refusal(whole, "通知.pdf")
    docx_without_document = with_parts(xlsx(), {})
    assert "不是 Word 文档" in refusal(docx_without_document)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_damaged_document_is_read_or_refused_never_raised(data: st.DataObject) -> None:
    whole = bytearray(NOTICE)
    for _ in range(data.draw(st.integers(1, 6))):
        whole[data.draw(st.integers(0, len(whole) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(whole)))
    try:
        read_word(bytes(whole[:cut]), "通知.docx", LIMITS)
    except WordFileError as exc:
        assert "「通知.docx」" in str(exc)


def test_a_damaged_entry_is_refused_not_raised() -> None:
    whole = bytearray(notice_docx())
    at = whole.index(b"word/document.xml") + 200  # inside the document's compressed data
    whole[at : at + 40] = bytes(40)
    assert "已损坏或不完整" in refusal(bytes(whole))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb(110 * 1024 * 1024)


def test_a_zip_bomb_is_refused_naming_the_limit_before_anything_is_unpacked(bomb: bytes) -> None:
    assert len(bomb) < LIMITS.max_bytes // 20
    with pytest.raises(WordFileTooLarge) as err:
        read_word(bomb, "通知.docx", LIMITS)
    message = str(err.value)
    assert "解压后大小上限 100.0 MB" in message and "max_uncompressed_bytes" in message


def test_too_many_entries_and_an_oversize_file_are_refused_naming_their_limits() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in range(40):
            z.writestr(f"word/media/{n}.png", b"")
    limits = WordConfig(max_entries=30)
    assert "超过上限 30 个（[web.media.word] max_entries）" in refusal(
        buf.getvalue(), limits=limits
    )
    small = WordConfig(max_bytes=2048, max_uncompressed_bytes=4096)
    with pytest.raises(WordFileTooLarge) as err:
        read_word(notice_docx(), "通知.docx", small)
    assert "Word 文档大小上限 2.0 KB（[web.media.word] max_bytes）" in str(err.value)


def test_a_part_declaring_a_dtd_is_refused_before_an_xml_parser_reads_it() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><w:document>&b;</w:document>'
    )
    message = refusal(with_parts(notice_docx(), {"word/document.xml": laughs}))
    assert "word/document.xml" in message and "DOCTYPE" in message


def test_macros_and_pictures_that_are_not_jpg_or_png_are_refused_naming_them() -> None:
    macro = with_parts(notice_docx(), {"word/vbaProject.bin": b"\x00" * 16})
    assert "含有宏" in refusal(macro)
    message = refusal(notice_docx(picture=GIF))
    assert "第 1 张图片是GIF 图片，只能使用 JPG 或 PNG 图片" in message


def test_a_file_on_disk_is_sized_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "通知.docx"
    path.write_bytes(notice_docx())
    assert read_word_file(path, LIMITS).title == TITLE
    with pytest.raises(WordFileTooLarge):
        read_word_file(path, WordConfig(max_bytes=1024, max_uncompressed_bytes=1024))
    with pytest.raises(WordFileError, match="不存在"):
        read_word_file(tmp_path / "无.docx", LIMITS)


def test_the_limits_are_validated_in_the_configuration() -> None:
    with pytest.raises(ConfigError, match="max_uncompressed_bytes"):
        parse_config(
            {"web": {"media": {"word": {"max_bytes": 4096, "max_uncompressed_bytes": 2048}}}}
        )
    with pytest.raises(ConfigError, match="max_entries"):
        parse_config({"web": {"media": {"word": {"max_entries": 1}}}})
