"""Normalization folds width and case, drops invisibles and separators, and every normalized
character maps back to the original character it came from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moderation.normalize import fold, normalize

INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f"]
SEPARATORS = [" ", "\u3000", "\n", "\t", "，", ".", "、", "*", "-", "_", "|", "★", "·", "\u0301"]


def test_fullwidth_letters_and_digits_fold_to_ascii_lower_case() -> None:
    assert normalize("ＡＢＣ１２３ｘ").text == "abc123x"


def test_zero_width_and_separators_are_dropped_and_offsets_point_at_kept_characters() -> None:
    n = normalize("中\u200b华 人，民")
    assert n.text == "中华人民"
    assert n.index == (0, 2, 4, 6)
    assert n.span(1, 3) == (2, 5)


def test_keeping_separators_still_drops_invisibles_and_folds_width() -> None:
    n = normalize("１\u200b2 3\n", drop_separators=False)
    assert n.text == "12 3\n"
    assert n.index == (0, 2, 3, 4, 5)


def test_expanding_characters_map_every_piece_to_the_one_original_character() -> None:
    n = normalize("a\ufb01b")  # ﬁ ligature -> "fi"
    assert n.text == "afib"
    assert n.index == (0, 1, 1, 2)
    assert n.span(1, 3) == (1, 2)


def test_long_runs_of_dropped_characters_across_map_chunks() -> None:
    text = "甲" + " " * 1000 + "乙" + "\u200b" * 600 + "丙"
    n = normalize(text)
    assert n.text == "甲乙丙"
    assert n.index == (0, 1001, 1602)


def test_empty_control_only_and_astral_text_do_not_crash() -> None:
    assert normalize("").text == ""
    assert normalize("\x00\x01\x07\x1b").text == ""
    assert normalize("\U000f0000\U0010fffd敏").text == "敏"
    assert fold("\ud800敏感") == "敏感"  # a lone surrogate is dropped, not an error


@given(st.text(max_size=200))
def test_every_normalized_character_comes_from_its_original_character(text: str) -> None:
    n = normalize(text)
    index = n.index
    assert len(index) == len(n.text)
    assert list(index) == sorted(index)
    for i, origin in enumerate(index):
        assert n.text[i] in fold(text[origin]) or n.text[i] in normalize(text[origin]).text


@given(
    st.lists(st.sampled_from(INVISIBLES + SEPARATORS), max_size=4),
    st.text(alphabet="一带路中国人民共和十八届三全会ＡＢ１２", max_size=12),
    st.text(alphabet="一带路中国人民共和十八届三全会ＡＢ１２", max_size=12),
)
def test_separators_and_invisibles_between_characters_never_change_the_folded_text(
    junk: list[str], left: str, right: str
) -> None:
    assert fold(left + "".join(junk) + right) == fold(left) + fold(right)
