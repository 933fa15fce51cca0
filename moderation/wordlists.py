"""Reading the TAB-separated data files of moderation/dictionaries/ used by comment triage."""

from __future__ import annotations

from importlib import resources

from moderation.rules.wording import DictionaryError

__all__ = ["rows", "words"]


def rows(name: str, shape: str, widths: tuple[int, ...]) -> list[list[str]]:
    """The TAB-separated rows of a dictionary file (blank and # lines skipped); a row with a
    number of columns not in widths, or an empty column, is a DictionaryError naming it."""
    path = resources.files("moderation").joinpath("dictionaries", name)
    found = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = line.strip(" \r\ufeff")
        if line and not line.startswith("#"):
            cols = [c.strip() for c in line.split("\t")]
            if len(cols) not in widths or not all(cols):
                raise DictionaryError(f"词表 {name} 第 {number} 行格式不对：应为「{shape}」。")
            found.append(cols)
    return found


def words(name: str) -> tuple[list[str], list[str]]:
    """(words, allowed longer terms written "!词语") of a one-column list such as spam.txt."""
    listed = [cols[0] for cols in rows(name, "词语", (1,))]
    return [w for w in listed if not w.startswith("!")], [w[1:] for w in listed if w[0] == "!"]
