"""moderation.segment: the knowledge base's own pass over jieba's dictionary cuts every text
exactly as jieba's search-engine segmentation (HMM off) does, domain words included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.segment import cut_for_search, tokenizer

# Words of the dictionary (some long, some domain words), characters that make ties and
# glued ASCII runs, and what jieba splits blocks on.
PIECES = [
    "小额贷款公司",
    "融资担保公司",
    "典当行",
    "年审",
    "地方金融监管局",
    "政府信息公开",
    "依申请公开",
    "工作日内",
    "中华人民共和国",
    "研究生命起源",
    "结婚的和尚未结婚的",
    "的",
    "了",
    "公",
    "司",
    "abc",
    "X1",
    "2025",
    "e",
    " ",
    "\t\n",
    "\r\n",
    "，",
    "。",
    "？",
    "(",
    ")",
    "-",
    "_",
    ".",
    "+",
    "#",
    "&",
    "%",
    "é",
    "㐀",
    "ｱ",
    "😀",
]


def jieba_says(text: str) -> list[str]:
    return tokenizer().lcut_for_search(text, HMM=False)


def test_sentences_are_cut_like_jieba() -> None:
    for text in [
        "",
        "请问小额贷款公司的监管政策在哪里可以看到(10000001)",
        "融资担保公司年审材料什么时候提交",
        "自收到申请之日起20个工作日内予以答复。",
        "中华人民共和国政府信息公开条例 第二十条",
        "abc123def 典当行ABC  x",
        "研究生命起源，结婚的和尚未结婚的",
    ]:
        assert cut_for_search(text) == jieba_says(text), text


def test_domain_words_stay_whole_with_their_parts() -> None:
    words = cut_for_search("小额贷款公司年审")
    assert "小额贷款公司" in words and "年审" in words
    assert "贷款" in words  # the two-character word inside, as search segmentation adds


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=20))
def test_any_mix_of_words_and_characters_is_cut_like_jieba(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert cut_for_search(text) == jieba_says(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_cut_like_jieba(text: str) -> None:
    assert cut_for_search(text) == jieba_says(text)
